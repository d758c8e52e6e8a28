# tools/build_micropython.py without building: source handling, the one-line skip without the
# toolchain, reuse of an up-to-date build, and --help.
import io
import subprocess
import sys
import tarfile

import pytest

from conftest import ROOT
from hil.qemu import build_tool

bm = build_tool()


def _tarball(path, names, top="micropython-1.28.0"):
    with tarfile.open(path, "w:xz") as tf:
        for name in names:
            data = b"# " + name.encode() + b"\n"
            info = tarfile.TarInfo(("%s/%s" % (top, name)) if top else name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_tarball_is_unpacked_without_its_top_folder_and_reused(tmp_path):
    tb = _tarball(tmp_path / "mp.tar.xz", ["py/mkrules.mk", "ports/qemu/Makefile"])
    src = tmp_path / "src"
    key = bm.fetch_source(str(tb), src, lambda s: None)
    assert key == bm.source_key(str(tb)) and key.startswith("tarball:")
    assert (src / "py" / "mkrules.mk").read_text() == "# py/mkrules.mk\n"
    assert (src / "ports" / "qemu" / "Makefile").exists()
    (src / "py" / "marker").write_text("kept")
    assert bm.fetch_source(str(tb), src, lambda s: None) == key  # same source: kept as it is
    assert bm.fetch_source(None, src, lambda s: None) == key  # none named: whatever is there
    assert (src / "py" / "marker").exists()


def test_bad_sources_are_one_line_errors(tmp_path):
    evil = _tarball(tmp_path / "evil.tar.xz", ["../../etc/x"], top=None)
    with pytest.raises(bm.BuildError, match="unsafe path"):
        bm.fetch_source(str(evil), tmp_path / "a", lambda s: None)
    other = _tarball(tmp_path / "other.tar.xz", ["README.md"])
    with pytest.raises(bm.BuildError, match="no py/mkrules.mk"):
        bm.fetch_source(str(other), tmp_path / "b", lambda s: None)
    assert not (tmp_path / "b").exists()  # nothing half-made is left as the source
    with pytest.raises(bm.BuildError, match="neither a file nor a folder"):
        bm.source_key(str(tmp_path / "nothing"))


def test_missing_toolchain_skips_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(bm, "_which", lambda name: False)
    assert bm.missing_tools(("qemu", "unix32")) == ["gcc-arm-none-eabi", "qemu-system-arm",
                                                    "gcc-multilib"]
    assert bm.main(["--if-toolchain"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["skipping the MicroPython builds and their tests (QEMU board, 32-bit port): "
                   "apt-get install gcc-arm-none-eabi qemu-system-arm gcc-multilib"]
    assert bm.main([]) == 2  # asked for explicitly: an error, not a skip
    assert "missing build tools: apt-get install" in capsys.readouterr().err


def test_stale_until_built_from_the_current_files(tmp_path, monkeypatch):
    assert bm.stale(("qemu",), tmp_path) == "not built yet"
    outs = bm.outputs(tmp_path)
    for k in ("mpy-cross", "qemu"):
        outs[k].write_bytes(b"x")
    assert bm.stale(("qemu",), tmp_path) == "built from older firmware or board files"
    (tmp_path / "stamp.json").write_text('{"qemu": {"source": "s", "inputs": "%s"}}'
                                         % bm._inputs_hash())
    assert bm.stale(("qemu",), tmp_path) is None
    monkeypatch.setattr(bm, "_which", lambda name: True)
    monkeypatch.setattr(bm, "missing_tools", lambda targets: [])
    # up to date: build() returns at once, without a source or a make
    assert bm.build(("qemu",), tmp_path, None) == (outs, False)


def test_help_answers():
    r = subprocess.run([sys.executable, "tools/build_micropython.py", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "MICROPYTHON_SRC" in r.stdout and "gcc-multilib" in r.stdout
    r = subprocess.run(["sh", "tools/micropython32.sh", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "build_micropython.py" in r.stdout
    r = subprocess.run(["sh", "tools/micropython32.sh", "--nope"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
