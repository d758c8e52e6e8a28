# Keys at deploy time and on the unit: the key store beside the state file, the deployment
# profile of a board, `make deploy KEY=`, `python -m hil keygen`.
import os
import subprocess
import sys
import types

from hal.keystore import load_auth

from afrr.auth import RESERVE, hmac_sha256
from conftest import ROOT
from hil.auth import keygen, load_key

KEYTEXT = "5 " + "11" * 32 + "\n"


def _frame(seq, key=bytes([0x11]) * 32, kid=5, unit=1):
    body = bytes([kid >> 8, kid & 0xFF, seq >> 24, (seq >> 16) & 0xFF, (seq >> 8) & 0xFF,
                  seq & 0xFF, 0, 1, 0, 0, 0, 7])
    return body + hmac_sha256(key, bytes([unit]) + body)[:16]


def test_key_and_floor_load_and_the_floor_is_reserved_ahead(tmp_path):
    k = tmp_path / "afrr.key"
    k.write_text(KEYTEXT)
    (tmp_path / "afrr.key.seq").write_text("100")
    (tmp_path / "afrr.key.seq.tmp").write_text("250")  # a cut before the rename: the higher
    a = load_auth(str(k))
    assert a.key_id == 5 and a.key == bytes([0x11]) * 32 and a.floor == 250
    assert not a.check(1, _frame(250), 0)  # up to the floor every number counts as used
    assert a.check(1, _frame(251), 0)
    assert (tmp_path / "afrr.key.seq").read_text() == str(251 + RESERVE)
    assert not (tmp_path / "afrr.key.seq.tmp").exists()
    assert a.check(1, _frame(252), 0)  # inside the reserve: no second write
    assert (tmp_path / "afrr.key.seq").read_text() == str(251 + RESERVE)
    # a restart: the persisted floor rules out every number the unit may have accepted
    b = load_auth(str(k))
    assert b.floor == 251 + RESERVE and not b.check(1, _frame(252), 0)


def test_corrupt_floor_refuses_everything_in_one_line_and_bad_key_locks(tmp_path, capsys):
    k = tmp_path / "afrr.key"
    k.write_text(KEYTEXT)
    (tmp_path / "afrr.key.seq").write_bytes(b"\xff\x00garbage")
    a = load_auth(str(k))
    assert a.floor == 0xFFFFFFFF and not a.check(1, _frame(1), 0)
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["error: %s.seq: no valid sequence floor: commands refused until one is "
                   "deployed" % k]
    (tmp_path / "afrr.key.seq").unlink()
    k.write_text("5 1234\n")  # a 2-byte key
    a = load_auth(str(k))
    assert a.key is None and not a.check(1, _frame(1), 0)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("error: ") and "locked" in out[0]
    a = load_auth(str(tmp_path / "absent.key"))
    assert a.key is None and "no key file" in capsys.readouterr().out


def test_board_key_path_beside_the_state_file(tmp_path):
    board = types.SimpleNamespace(STATE_PATH=str(tmp_path / "afrr_state.bin"))
    (tmp_path / "afrr.key").write_text(KEYTEXT)
    assert load_auth(board).key_id == 5
    board.KEY_PATH = str(tmp_path / "other.key")
    assert load_auth(board).key is None
    # an emulated rig board (OPEN_BENCH): open bench profile (no Auth) until a key is on it
    board.OPEN_BENCH = True
    assert load_auth(board) is None
    board.KEY_PATH = str(tmp_path / "afrr.key")
    assert load_auth(board).key_id == 5


def test_floor_write_failure_refuses_the_command(tmp_path):
    k = tmp_path / "afrr.key"
    k.write_text(KEYTEXT)

    class ReadOnlyFs:
        def remove(self, p):
            raise OSError(30)

        def rename(self, a, b):
            raise OSError(30)

    a = load_auth(str(k), fs=ReadOnlyFs())
    assert not a.check(1, _frame(1), 0) and a.floor == 0


def test_a_board_steps_on_its_own_clock_unless_a_rig_build():
    from app import _board_opts

    board = types.SimpleNamespace(UART_BAUD=115200, STATE_PATH="/afrr_state.bin")
    assert _board_opts(board)["realtime"] is True
    board.LOCKSTEP = True
    assert _board_opts(board)["realtime"] is False


def _hil(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "hil", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_keygen_writes_an_owner_only_key_and_never_overwrites(tmp_path):
    p = tmp_path / "unit.key"
    r = _hil("keygen", str(p), "--id", "42")
    assert r.returncode == 0, r.stderr
    kid, key = load_key(p)
    assert kid == 42 and len(key) == 32
    assert p.stat().st_mode & 0o777 == 0o600
    before = p.read_text()
    r = _hil("keygen", str(p))
    assert r.returncode == 2 and r.stderr.strip().startswith("error: ") and "exists" in r.stderr
    assert p.read_text() == before
    r = _hil("keygen", str(tmp_path / "x.key"), "--id", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_deploy_copies_the_key_beside_the_state_file(tmp_path):
    p = tmp_path / "unit.key"
    keygen(p, 3)
    deploy = [sys.executable, str(ROOT / "tools" / "deploy.py")]
    r = subprocess.run(deploy + ["rp2_pico", "/dev/null", "--dry-run", "--key", str(p),
                                 "--build", str(tmp_path / "build")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    cmd = r.stdout.strip().splitlines()[-1]
    assert "fs cp %s :/afrr.key + reset" % p in cmd
    (tmp_path / "bad.key").write_text("3 abcd\n")
    r = subprocess.run(deploy + ["rp2_pico", "/dev/null", "--dry-run", "--key",
                                 str(tmp_path / "bad.key")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("deploy: error: ")


def test_deploy_floor_clears_a_corrupt_floor(tmp_path):
    # the unit refuses everything on a corrupt floor; `make deploy ... FLOOR=N` writes N to both
    # floor files through mpremote exec: the code it runs, run here on the Unix port, gives a
    # unit that takes commands above N again and none up to it
    sys.path.insert(0, str(ROOT / "tools"))
    import deploy

    k = tmp_path / "afrr.key"
    k.write_text(KEYTEXT)
    (tmp_path / "afrr.key.seq").write_bytes(b"")
    (tmp_path / "afrr.key.seq.tmp").write_bytes(b"12x")
    assert load_auth(str(k)).floor == 0xFFFFFFFF
    build = tmp_path / "build"
    build.mkdir()
    cmd = deploy.mpremote_cmd("/dev/null", build, None, str(k), 9000)
    code = cmd[cmd.index("exec") + 1]
    assert cmd[-2:] == ["+", "reset"]
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "micropython"), "-c", code],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    a = load_auth(str(k))
    assert a.floor == 9000 and not a.check(1, _frame(9000), 0) and a.check(1, _frame(9001), 0)
    assert (tmp_path / "afrr.key.seq").read_text() == str(9001 + RESERVE)
    for bad in ("-1", "4294967296", "1e3", "x"):
        r = subprocess.run([sys.executable, str(ROOT / "tools" / "deploy.py"), "rp2_pico",
                            "/dev/null", "--dry-run", "--floor", bad],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "--floor" in lines[0]


def test_rig_build_flag_only_in_a_lockstep_build(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    import build_firmware

    build_firmware.build("rp2_pico", tmp_path / "rig", quiet=True, lockstep=True)
    build_firmware.build("rp2_pico", tmp_path / "service", quiet=True)
    assert b"LOCKSTEP" in (tmp_path / "rig" / "rp2_pico" / "boards" / "rp2_pico.mpy").read_bytes()
    assert b"LOCKSTEP" not in (tmp_path / "service" / "rp2_pico" / "boards" /
                               "rp2_pico.mpy").read_bytes()
