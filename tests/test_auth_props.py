# Authenticated commands under attack (hypothesis, CPython) and the firmware HMAC against
# CPython's hmac module, on CPython and on the MicroPython Unix port.
import hmac
import json
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from afrr import regmap
from afrr.auth import CMD_MODE, CMD_SETPOINT, CMD_UNLOCK, hmac_sha256
from conftest import ROOT
from hil.auth import Signer, sign
from tests.firmware.test_auth import KEY, KID, frame, request, server, xfer

MP = ROOT / ".venv" / "bin" / "micropython"


def _state(rtu, bank, ctl, cfg):
    """Everything a command could change: holding registers, config, mode, lock, sequence."""
    hold = bytes(xfer(rtu, _read(0, regmap.HOLD_COUNT)))
    conf = bytes(xfer(rtu, _read(regmap.CFG_BASE, regmap.CFG_COUNT)))
    a = bank.auth
    return (hold, conf, ctl.mode, ctl.meas.remote_sp_kw, bank.remote_seq, bank.unit_id,
            a.unlock_ms, a.seq_hi, a.seq_lo)


def _read(addr, count):
    from afrr.modbus import build_request
    return build_request(1, 3, addr, count)


@given(key=st.binary(min_size=16, max_size=64), msg=st.binary(max_size=300))
def test_hmac_equals_cpython(key, msg):
    assert hmac_sha256(key, msg) == hmac.new(key, msg, "sha256").digest()


def test_hmac_on_the_unix_port_equals_cpython():
    cases = [(bytes([i]) * (16 + i), bytes(range(i * 7 % 256)) * 3) for i in range(40)]
    script = ("import sys, json\nsys.path.insert(0, 'firmware')\n"
              "from afrr.auth import hmac_sha256\n"
              "for k, m in json.loads(sys.stdin.read()):\n"
              "    print(''.join('%02x' % b for b in hmac_sha256(bytes.fromhex(k), "
              "bytes.fromhex(m))))\n")
    r = subprocess.run([str(MP), "-c", script], cwd=ROOT, capture_output=True, text=True,
                       input=json.dumps([(k.hex(), m.hex()) for k, m in cases]), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [hmac.new(k, m, "sha256").hexdigest() for k, m in cases]


def test_rig_signer_matches_the_firmware_frame():
    regs = sign(1, KID, KEY, 0x12345, CMD_SETPOINT, -5)
    data = b"".join(bytes([w >> 8, w & 0xFF]) for w in regs)
    assert data == frame(1, 0x12345, CMD_SETPOINT, -5)


commands = st.tuples(st.sampled_from([CMD_SETPOINT, CMD_MODE, CMD_UNLOCK, 0, 9]),
                     st.integers(-2**30 + 1, 2**30 - 1))


@settings(max_examples=150, deadline=None)
@given(seq=st.integers(1, 2**32 - 1), cmd=commands, flip=st.integers(0, 28 * 8 - 1),
       unit=st.sampled_from([0, 1, 2]))
def test_a_frame_without_the_right_mac_changes_nothing(seq, cmd, flip, unit):
    # any bit of a signed command flipped (key id, sequence, command, value or MAC), or sent to
    # another address, and the unit refuses it without a trace beyond its counter
    rtu, bank, ctl, cfg = server()
    data = bytearray(frame(1, seq, cmd[0], cmd[1]))
    data[flip // 8] ^= 1 << (flip % 8)
    before = _state(rtu, bank, ctl, cfg)
    reply = xfer(rtu, request(unit, bytes(data)))
    if unit == 2:
        assert reply == b"" and bank.auth_rejects == 0  # not for this unit
    else:
        assert bank.auth_rejects == 1
        assert reply == b"" if unit == 0 else reply[1:3] == b"\x90\x01"
    assert _state(rtu, bank, ctl, cfg) == before


@settings(max_examples=60, deadline=None)
@given(cmds=st.lists(commands, min_size=1, max_size=12), start=st.integers(0, 2**31),
       replay=st.randoms())
def test_replays_of_every_accepted_frame_are_refused(cmds, start, replay):
    rtu, bank, ctl, cfg = server()
    signer = Signer(KID, KEY, start)
    sent = []
    for cmd, value in cmds:
        regs = signer.next(1, cmd, value)
        data = b"".join(bytes([w >> 8, w & 0xFF]) for w in regs)
        reply = xfer(rtu, request(1, data))
        assert reply[1] in (0x10, 0x90)
        if reply[1] == 0x90:
            assert reply[2] == 3  # authentic but out of range: the number is used anyway
        sent.append(data)
    rejects = bank.auth_rejects
    order = list(sent)
    replay.shuffle(order)
    for data in order:  # in any order, every one of them again
        before = _state(rtu, bank, ctl, cfg)
        assert xfer(rtu, request(1, data))[1:3] == b"\x90\x01"
        assert _state(rtu, bank, ctl, cfg) == before
    assert bank.auth_rejects == rejects + len(sent)
