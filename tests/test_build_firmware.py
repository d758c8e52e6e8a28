# Every board builds with mpy-cross for its architecture; every .mpy header is checked.
import importlib
import subprocess
import sys

import pytest

from conftest import MICROPYTHON, ROOT

sys.path.insert(0, str(ROOT / "tools"))
import build_firmware as bf  # noqa: E402

import boards  # noqa: E402

NATIVE_SRC = "import micropython\n\n@micropython.native\ndef inc(x):\n    return x + 1\n"
ARCH_ID = {"x64": 2, "armv6m": 4, "armv7m": 5, "armv7emsp": 7, "xtensawin": 10}


def board(name):
    return importlib.import_module("boards." + name)


def compile_src(tmp_path, src, arch, name="m"):
    p = tmp_path / (name + ".py")
    p.write_text(src)
    out = tmp_path / ("%s-%s.mpy" % (name, arch))
    subprocess.run([bf.mpy_cross(), "-march=" + arch, "-o", str(out), str(p)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    return out, {n: bf.build(n, out, quiet=True) for n in boards.NAMES}


@pytest.mark.parametrize("name", boards.NAMES)
def test_board_builds_and_every_header_checks(builds, name):
    out, res = builds
    rows, total = res[name]
    b = board(name)
    assert total <= b.FLASH_BUDGET_BYTES
    mpys = sorted((out / name).rglob("*.mpy"))
    rels = {r[0] for r in rows}
    assert "afrr/controller.mpy" in rels and "afrr/freqmeas.mpy" in rels
    assert "boards/%s.mpy" % name in rels and "hal/store.mpy" in rels
    # only this board's data module goes onto the board
    assert {p.name for p in (out / name / "boards").iterdir()} == {"__init__.mpy", name + ".mpy"}
    if (ROOT / "firmware" / "main.py").exists():
        assert (out / name / "main.py").read_bytes() == (ROOT / "firmware" / "main.py").read_bytes()
    for p in mpys:
        data = p.read_bytes()
        h = bf.check_mpy(data, b, p.name)
        assert data[0:2] == b"M\x06" and data[3] == 31
        assert h["arch"] == "none" or bf.arch_loads(b.MPY_ARCH, h["arch"])


def test_bytecode_header_bytes_as_documented(tmp_path):
    data = compile_src(tmp_path, "x = 1\n", "armv6m")
    # 'M', version 6, no arch and no sub-version for bytecode, 31-bit small ints
    assert data[:4] == bytes([0x4D, 6, 0x00, 31])


@pytest.mark.parametrize("name", boards.NAMES)
def test_native_code_records_the_board_arch(tmp_path, name):
    b = board(name)
    data = compile_src(tmp_path, NATIVE_SRC, b.MPY_ARCH)
    assert data[2] == (ARCH_ID[b.MPY_ARCH] << 2) | 3  # arch in bits 2-5, sub-version 3
    h = bf.check_mpy(data, b)
    assert h["arch"] == b.MPY_ARCH and h["sub_version"] == 3


def test_wrong_arch_and_version_are_rejected(tmp_path):
    rp2, esp32, pyb = board("rp2_pico"), board("esp32_devkit"), board("pyboard_v11")
    xt = compile_src(tmp_path, NATIVE_SRC, "xtensawin")
    with pytest.raises(bf.MpyHeaderError, match="native code for xtensawin, rp2_pico runs armv6m"):
        bf.check_mpy(xt, rp2)
    m4 = compile_src(tmp_path, NATIVE_SRC, "armv7emsp")
    with pytest.raises(bf.MpyHeaderError, match="armv7emsp"):
        bf.check_mpy(m4, rp2)  # M0+ cannot run Thumb-2
    m0 = compile_src(tmp_path, NATIVE_SRC, "armv6m")
    bf.check_mpy(m0, pyb)  # an M4 runs M0 code
    with pytest.raises(bf.MpyHeaderError):
        bf.check_mpy(m0, esp32)
    old = bytearray(m0)
    old[1] = 5
    with pytest.raises(bf.MpyHeaderError, match="version 5, rp2_pico loads version 6"):
        bf.check_mpy(bytes(old), rp2)
    old_abi = bytearray(m0)
    old_abi[2] = (4 << 2) | 2  # native code from MicroPython 1.22 (sub-version 2)
    with pytest.raises(bf.MpyHeaderError, match="sub-version 2"):
        bf.check_mpy(bytes(old_abi), rp2)
    wide = bytearray(compile_src(tmp_path, "x = 1\n", "armv6m"))
    wide[3] = 63
    with pytest.raises(bf.MpyHeaderError, match="63-bit small ints"):
        bf.check_mpy(bytes(wide), rp2)
    with pytest.raises(bf.MpyHeaderError, match="not 'M'"):
        bf.check_mpy(b"C\x06\x00\x1f", rp2)


def test_over_budget_fails_with_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(board("pyboard_v11"), "FLASH_BUDGET_BYTES", 1000)
    assert bf.main(["pyboard_v11", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "over the flash budget of 1000 bytes (FLASH_BUDGET_BYTES in boards/pyboard_v11.py)" \
        in err[0]


def test_unsupported_syntax_fails_the_build(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("match 1:\n    case 1:\n        pass\n")  # no match statement in MicroPython
    real = bf.sources
    monkeypatch.setattr(bf, "sources", lambda b: real(b) + [(bad, "afrr/bad.mpy")])
    assert bf.main(["rp2_pico", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "mpy-cross rejected bad.py for rp2_pico" in err and "SyntaxError" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_board_is_a_clear_error(capsys):
    assert bf.main(["nope"]) == 1
    assert "unknown board 'nope'" in capsys.readouterr().err


def test_unix_build_imports_on_the_unix_port(builds):
    out, _ = builds
    code = ("import sys; sys.path[:] = ['%s']; import afrr.freqmeas, afrr.persist, "
            "afrr.controller, hal.store, boards; print(afrr.freqmeas.__file__.endswith('.mpy'), "
            "boards.load().NAME)") % (out / "unix")
    r = subprocess.run([str(MICROPYTHON), "-c", code], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "unix"]
