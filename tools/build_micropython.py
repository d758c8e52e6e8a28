#!/usr/bin/env python3
"""Build MicroPython v1.28.0 from source for the emulated board and the 32-bit checks.

Gets the source (MICROPYTHON_SRC naming a source tarball or a source tree, else a shallow git
clone of the v1.28.0 tag), then builds into build/micropython/:
  mpy-cross             the cross compiler the ports freeze with
  firmware-qemu.elf     ports/qemu BOARD=MPS2_AN385 (Cortex-M3 under qemu-system-arm) with the
                        firmware frozen in (boards/manifest_afrr.py) and littlefs (VfsLfs2)
  micropython32         the Unix port built with -m32 (31-bit small ints, 4-byte objects)
  micropython32-frozen  the same with the firmware frozen in
A stamp (a hash of the source and of every input file) makes a second run a no-op while
nothing changed; make's own dependency tracking handles partial rebuilds.
"""
import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "micropython"
TAG = "v1.28.0"
REPO_URL = "https://github.com/micropython/micropython"
PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm", "gcc-multilib")
# what the builds read from a source tree (the subset a copy of a tree or a tarball needs)
SOURCE_PARTS = ("LICENSE", "README.md", "py", "extmod", "shared", "lib/libm", "lib/libm_dbl",
                "lib/uzlib", "lib/re1.5", "lib/littlefs", "lib/oofatfs", "lib/crypto-algorithms",
                "mpy-cross", "ports/qemu", "ports/unix", "tools", "drivers/bus")
MANIFEST = ROOT / "boards" / "manifest_afrr.py"
QEMU_BOARD = "MPS2_AN385"
# littlefs on the qemu port: extmod.mk adds it with MICROPY_VFS_LFS2=1; its file timestamps
# call mp_hal_time_ns(), which this port lacks, so files get time 0 (quoted: the port's
# Makefile passes CFLAGS through the shell)
QEMU_OPTS = ("MICROPY_VFS_LFS2=1", "CFLAGS_EXTRA=-D'mp_hal_time_ns()=0'")
UNIX32_OPTS = ("VARIANT=standard", "CFLAGS_EXTRA=-m32", "LDFLAGS_EXTRA=-m32",
               "MICROPY_PY_BTREE=0", "MICROPY_PY_SSL=0", "MICROPY_PY_FFI=0",
               "MICROPY_USE_READLINE=0")
TARGETS = ("qemu", "unix32")


class BuildError(Exception):
    """One line: what failed and what to do."""


def outputs(out=OUT):
    """Paths of everything this tool makes, by name."""
    out = pathlib.Path(out)
    return {"mpy-cross": out / "mpy-cross", "qemu": out / "firmware-qemu.elf",
            "unix32": out / "micropython32", "unix32-frozen": out / "micropython32-frozen"}


def _which(name):
    return shutil.which(name) is not None


def missing_tools(targets=TARGETS):
    """Debian packages (from PACKAGES) whose tools are missing for these targets."""
    miss = []
    if "qemu" in targets:
        if not _which("arm-none-eabi-gcc"):
            miss.append("gcc-arm-none-eabi")
        else:
            libc = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=libc.a"],
                                  capture_output=True, text=True).stdout.strip()
            if not os.path.isabs(libc):  # the compiler echoes the name back when it has none
                miss.append("libnewlib-arm-none-eabi")
        if not _which("qemu-system-arm"):
            miss.append("qemu-system-arm")
    if "unix32" in targets and not _m32_works():
        miss.append("gcc-multilib")
    return miss


def _m32_works():
    if not _which("gcc"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "t.c"
        src.write_text("#include <stdio.h>\nint main(void) { return 0; }\n")
        r = subprocess.run(["gcc", "-m32", str(src), "-o", str(pathlib.Path(tmp) / "t")],
                           capture_output=True)
        return r.returncode == 0


def install_hint(miss):
    return "apt-get install %s" % " ".join(miss)


# -- source -------------------------------------------------------------------------------------
def source_key(spec):
    """What identifies the source: the tarball's sha256, a tree's path, or the git tag."""
    if not spec:
        return "git:%s@%s" % (REPO_URL, TAG)
    p = pathlib.Path(spec)
    if p.is_dir():
        return "tree:%s" % p.resolve()
    if p.is_file():
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return "tarball:%s" % h.hexdigest()
    raise BuildError("MICROPYTHON_SRC=%s is neither a file nor a folder" % spec)


def _extract(tarball, dest):
    try:
        with tarfile.open(tarball) as tf:
            members = tf.getmembers()
            tops = {m.name.split("/", 1)[0] for m in members}
            strip = len(tops) == 1 and any("/" in m.name for m in members)  # one top folder
            for m in members:
                if strip and "/" not in m.name:
                    continue
                name = m.name.split("/", 1)[1] if strip else m.name
                if name.startswith("/") or ".." in pathlib.PurePosixPath(name).parts:
                    raise BuildError("%s: unsafe path %r in the archive" % (tarball, m.name))
                m.name = name
                tf.extract(m, dest)
    except (tarfile.TarError, OSError) as e:
        raise BuildError("cannot unpack %s (%s)" % (tarball, e))


def _copy_tree(tree, dest):
    tree = pathlib.Path(tree)
    for part in SOURCE_PARTS:
        src = tree / part
        if not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dest / part, symlinks=True,
                            ignore=shutil.ignore_patterns(".git", "build", "build-*"))
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / part)


def fetch_source(spec, src, log):
    """Make `src` hold the source named by spec; returns its key. A source already there is
    kept when its key matches, or when no source is named (it is v1.28.0 whatever its origin).
    A new one is made beside it and swapped in only once complete."""
    mark = src / ".afrr-source"
    if mark.exists() and spec is None:
        return mark.read_text()
    key = source_key(spec)
    if mark.exists() and mark.read_text() == key:
        return key
    new = src.with_name(src.name + ".new")
    if new.exists():
        shutil.rmtree(new)
    if key.startswith("git:"):
        log("cloning %s %s" % (REPO_URL, TAG))
        r = subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", TAG, REPO_URL,
                            str(new)], capture_output=True, text=True)
        if r.returncode != 0:
            raise BuildError("git clone of %s %s failed (%s); set MICROPYTHON_SRC to a source "
                             "tarball or tree" % (REPO_URL, TAG, r.stderr.strip()[-200:]))
    else:
        new.mkdir(parents=True)
        if key.startswith("tree:"):
            log("copying the source from %s" % spec)
            _copy_tree(spec, new)
        else:
            log("unpacking %s" % spec)
            _extract(pathlib.Path(spec), new)
    if not (new / "py" / "mkrules.mk").exists():
        shutil.rmtree(new)
        raise BuildError("%s does not look like a MicroPython source (no py/mkrules.mk)"
                         % (spec or REPO_URL))
    (new / ".afrr-source").write_text(key)
    if src.exists():
        shutil.rmtree(src)
    new.rename(src)
    return key


# -- builds -------------------------------------------------------------------------------------
def _make(src_dir, args, jobs, log, what):
    t0 = time.monotonic()
    log("building %s" % what)
    r = subprocess.run(["make", "-C", str(src_dir), "-j%d" % jobs, *args], capture_output=True,
                       text=True)
    if r.returncode != 0:
        tail = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()][-1:]
        raise BuildError("building %s failed: %s" % (what, tail[0] if tail else "make failed"))
    log("built %s in %.0f s" % (what, time.monotonic() - t0))


def _inputs_hash():
    """Hash of everything a build reads from this repository, and of the build options."""
    h = hashlib.sha256()
    h.update(repr((QEMU_OPTS, UNIX32_OPTS, QEMU_BOARD)).encode())
    files = sorted(p for d in ("firmware", "boards") for p in (ROOT / d).rglob("*.py"))
    files.append(pathlib.Path(__file__).resolve())
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _stamp(out):
    try:
        return json.loads((pathlib.Path(out) / "stamp.json").read_text())
    except (OSError, ValueError):
        return {}


def stale(targets=TARGETS, out=OUT):
    """None when the outputs of `targets` exist and were built from the current firmware and
    board files; else one line saying why not."""
    outs = outputs(out)
    want = ["mpy-cross", *targets] + (["unix32-frozen"] if "unix32" in targets else [])
    if not all(outs[w].exists() for w in want):
        return "not built yet"
    digest = _inputs_hash()
    stamp = _stamp(out)
    if any(stamp.get(t, {}).get("inputs") != digest for t in targets):
        return "built from older firmware or board files"
    return None


def build(targets=TARGETS, out=OUT, spec=None, jobs=2, log=print):
    """Build `targets` into `out`; returns (outputs dict, True if anything was rebuilt)."""
    out = pathlib.Path(out)
    miss = missing_tools(targets)
    if miss:
        raise BuildError("missing build tools: %s" % install_hint(miss))
    outs = outputs(out)
    src = out / "src"
    stamp = _stamp(out)
    # a named source must be the one built from; with none named, any v1.28.0 build will do
    key = source_key(spec) if spec else None
    if stale(targets, out) is None and all(key in (None, stamp[t].get("source"))
                                           for t in targets):
        return outs, False
    out.mkdir(parents=True, exist_ok=True)
    key = fetch_source(spec, src, log)
    # py/mkrules.mk refuses to freeze unless MPY_LIB_DIR holds a README.md (micropython-lib);
    # the manifest needs nothing from it, so an empty stand-in folder does
    libdir = out / "no-micropython-lib"
    libdir.mkdir(exist_ok=True)
    (libdir / "README.md").write_text("Stand-in for micropython-lib: nothing is needed from it.\n")
    frozen = ("FROZEN_MANIFEST=%s" % MANIFEST, "MPY_LIB_DIR=%s" % libdir)
    _make(src / "mpy-cross", [], jobs, log, "mpy-cross")
    shutil.copy2(src / "mpy-cross" / "build" / "mpy-cross", outs["mpy-cross"])
    if "qemu" in targets:
        _make(src / "ports" / "qemu", ["BOARD=" + QEMU_BOARD, "BUILD=build-afrr", *frozen,
                                       *QEMU_OPTS], jobs, log, "ports/qemu " + QEMU_BOARD)
        shutil.copy2(src / "ports" / "qemu" / "build-afrr" / "firmware.elf", outs["qemu"])
    if "unix32" in targets:
        unix = src / "ports" / "unix"
        _make(unix, ["BUILD=build-32", "FROZEN_MANIFEST=", *UNIX32_OPTS], jobs, log,
              "the 32-bit Unix port")
        shutil.copy2(unix / "build-32" / "micropython", outs["unix32"])
        # frozen @micropython.native code needs the port's architecture (the qemu board's
        # mpconfigboard.mk sets its own; the Unix port leaves it to the builder)
        _make(unix, ["BUILD=build-32f", "MPY_CROSS_FLAGS=-march=x86", *frozen, *UNIX32_OPTS],
              jobs, log,
              "the 32-bit Unix port with the firmware frozen in")
        shutil.copy2(unix / "build-32f" / "micropython", outs["unix32-frozen"])
    for t in targets:
        stamp[t] = {"source": key, "inputs": _inputs_hash()}
    (out / "stamp.json").write_text(json.dumps(stamp, indent=1) + "\n")
    return outs, True


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="tools/build_micropython.py",
        description="Build MicroPython %s from source into build/micropython/: mpy-cross, the "
                    "qemu port (MPS2-AN385, firmware frozen in) and the 32-bit Unix port. "
                    "Source: $MICROPYTHON_SRC (a tarball or a source tree), else git clone. "
                    "Needs make, gcc and the Debian packages %s." % (TAG, " ".join(PACKAGES)))
    ap.add_argument("--only", choices=TARGETS, action="append",
                    help="build only this target (repeatable; default: all)")
    ap.add_argument("--out", default=str(OUT), help="output folder (default build/micropython)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2,
                    help="parallel make jobs (default: the CPU count)")
    ap.add_argument("--if-toolchain", action="store_true",
                    help="print one line and succeed when the build tools are missing, or when "
                         "no source is given and the clone fails (make test)")
    ap.add_argument("--print-env", action="store_true",
                    help="print AFRR_MICROPYTHON32=... lines for the 32-bit checks")
    args = ap.parse_args(argv)
    targets = tuple(args.only or TARGETS)
    spec = os.environ.get("MICROPYTHON_SRC") or None
    t0 = time.monotonic()
    quiet = args.if_toolchain
    try:
        if args.if_toolchain and missing_tools(targets):
            print("skipping the MicroPython builds and their tests (QEMU board, 32-bit port): "
                  + install_hint(missing_tools(targets)))
            return 0
        outs, rebuilt = build(targets, pathlib.Path(args.out), spec, max(1, args.jobs),
                              log=(lambda s: None) if quiet else print)
    except BuildError as e:
        if args.if_toolchain and spec is None and "git clone" in str(e):
            print("skipping the MicroPython builds and their tests: %s" % e)
            return 0
        print("error: %s" % e, file=sys.stderr)
        return 2
    if rebuilt or not quiet:
        print("MicroPython %s builds in %s %s (%.0f s)" % (
            TAG, os.path.relpath(args.out, ROOT) if pathlib.Path(args.out).is_absolute()
            else args.out, "rebuilt" if rebuilt else "up to date", time.monotonic() - t0))
    if args.print_env and "unix32" in targets:
        print("AFRR_MICROPYTHON32=%s" % outs["unix32"])
        print("AFRR_MICROPYTHON32_FROZEN=%s" % outs["unix32-frozen"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
