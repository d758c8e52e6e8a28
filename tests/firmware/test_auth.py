# Authenticated commands and the write lock (firmware/afrr/auth.py, unitregs.py): bytes on the
# wire, on CPython and the Unix port. The signer here is the firmware's own HMAC; tests/
# test_auth_props.py checks it against CPython's hmac module and attacks it with hypothesis.
import sys

from afrr import auth, regmap
from afrr.auth import AUTH_BASE, AUTH_COUNT, CMD_MODE, CMD_SETPOINT, CMD_UNLOCK, Auth, hmac_sha256
from afrr.config import Config, field_index
from afrr.controller import Controller
from afrr.modbus import RTU, build_request, crc16
from afrr.unitregs import UnitRegisters

try:  # one request in, the reply bytes out
    from test_modbus_codec import _xfer as xfer  # tests/firmware on the path (both runtimes)
except ImportError:  # imported as tests.firmware.test_auth (tests/test_auth_props.py)
    from tests.firmware.test_modbus_codec import _xfer as xfer

try:
    from hil import regcodec  # CPython (pytest)
except ImportError:  # the Unix port: tests/mp_runner.py adds hil/
    import regcodec

KEY = bytes(range(1, 33))
KID = 7


def _hex(b):
    return "".join("%02x" % x for x in b)


def test_hmac_rfc4231_vectors():
    # RFC 4231, test cases 1 and 2 (HMAC-SHA-256)
    assert _hex(hmac_sha256(b"\x0b" * 20, b"Hi There")) == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    assert _hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?")) == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_mac_compared_in_full():
    # a MAC that differs in any one of its 16 bytes is refused (the compare does not stop early:
    # it ORs the differences of every byte)
    good = frame(1, 1, CMD_SETPOINT, 5)
    for i in range(16):
        bad = bytearray(good)
        bad[12 + i] ^= 0x80
        assert not Auth(KEY, KID).check(1, bad, 0)
    assert Auth(KEY, KID).check(1, good, 0)


def frame(unit, seq, cmd, value, key=KEY, kid=KID):
    """The 28 bytes of one command (regmap.AUTH layout), signed with the firmware's HMAC."""
    body = bytearray(12)
    for i, w in enumerate((kid, (seq >> 16) & 0xFFFF, seq & 0xFFFF, cmd, (value >> 16) & 0xFFFF,
                           value & 0xFFFF)):
        body[2 * i] = (w >> 8) & 0xFF
        body[2 * i + 1] = w & 0xFF
    return bytes(body) + hmac_sha256(key, bytes([unit]) + bytes(body))[:16]


def request(unit_addr, data):
    """The FC16 request writing a command to the AUTH block."""
    words = [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]
    return build_request(unit_addr, 16, AUTH_BASE, AUTH_COUNT, data=words)


def server(keyed=True, lockstep=True, saved=None):
    cfg = Config()
    ctl = Controller(cfg)
    a = Auth(KEY if keyed else None, KID, 0, None if saved is None else saved.append)
    bank = UnitRegisters(ctl, cfg, unit_id=1, lockstep=lockstep, auth=a)
    rtu = RTU(bank)
    bank.rtu = rtu
    return rtu, bank, ctl, cfg




def ok(reply):
    return len(reply) == 8 and reply[1] == 16


def refused(reply):
    return len(reply) == 5 and reply[1] & 0x80 and reply[2] == 1


def test_signed_setpoint_accepted_then_replay_refused():
    rtu, bank, ctl, cfg = server()
    req = request(1, frame(1, 5, CMD_SETPOINT, -321))
    assert ok(xfer(rtu, req))
    assert ctl.meas.remote_sp_kw == -321 and bank.remote_seq == 1
    assert (bank.auth.seq_hi, bank.auth.seq_lo) == (0, 5)
    assert refused(xfer(rtu, req))  # the same frame again
    assert refused(xfer(rtu, request(1, frame(1, 4, CMD_SETPOINT, 99))))  # an older number
    assert ctl.meas.remote_sp_kw == -321 and bank.remote_seq == 1 and bank.auth_rejects == 2
    # the input registers show the counter and the last sequence number
    out = regcodec.decode_input([(rtu.tx[3 + 2 * i] << 8) | rtu.tx[4 + 2 * i] for i in range(
        (xfer(rtu, build_request(1, 4, 0, regmap.INPUT_COUNT))[2]) // 2)])
    assert out["auth_rejects"] == 2 and out["status"] & 0x10


def test_forged_frames_refused_and_change_nothing():
    rtu, bank, ctl, cfg = server()
    good = frame(1, 9, CMD_SETPOINT, 500)
    bad_mac = bytearray(good)
    bad_mac[27] ^= 1
    bad_value = bytearray(good)
    bad_value[11] ^= 1  # value changed after signing
    for data in (bytes(bad_mac), bytes(bad_value), frame(2, 9, CMD_SETPOINT, 500),  # other unit
                 frame(1, 9, CMD_SETPOINT, 500, kid=8), frame(1, 9, CMD_SETPOINT, 500,
                                                          key=bytes(32))):
        assert refused(xfer(rtu, request(1, data)))
    assert ctl.meas.remote_sp_kw == 0 and bank.remote_seq == 0 and bank.auth_rejects == 5
    assert bank.auth.seq_lo == 0  # a forged frame takes no sequence number
    assert ok(xfer(rtu, request(1, good)))  # so the authentic one still goes through
    assert ctl.meas.remote_sp_kw == 500


def test_broadcast_command_refused_without_reply():
    rtu, bank, ctl, cfg = server()
    assert xfer(rtu, request(0, frame(1, 3, CMD_SETPOINT, 500))) == b""
    assert xfer(rtu, request(0, frame(0, 3, CMD_MODE, 2))) == b""
    assert ctl.meas.remote_sp_kw == 0 and ctl.mode == 0 and bank.auth_rejects == 2


def test_no_key_nothing_authenticates():
    rtu, bank, ctl, cfg = server(keyed=False)
    assert refused(xfer(rtu, request(1, frame(1, 1, CMD_UNLOCK, 1000))))
    assert bank.auth.unlock_ms == 0 and not bank.status & 0x0010


def test_keyed_unit_refuses_plain_setpoint_and_mode_change():
    rtu, bank, ctl, cfg = server()
    hi, lo = regcodec.s32_words(400)
    sp = regcodec.holding_by_name("remote_sp_kw")[0]
    assert refused(xfer(rtu, build_request(1, 16, sp, 2, data=[hi, lo])))
    r = xfer(rtu, build_request(1, 6, 0x0001, 2))
    assert r[1] == 0x86 and r[2] == 1
    assert ctl.meas.remote_sp_kw == 0 and ctl.mode == 0 and bank.auth_rejects == 2
    assert xfer(rtu, build_request(1, 6, 0x0001, 0))[1] == 6  # the mode in force: no change
    assert ok(xfer(rtu, request(1, frame(1, 1, CMD_MODE, 2))))
    assert ctl.mode == 2 and xfer(rtu, build_request(1, 3, 0x0001, 1))[4] == 2


def _cfg_write(rtu, name, value):
    a = regmap.CFG_BASE + 2 * field_index(name)
    hi, lo = regcodec.s32_words(value)
    return xfer(rtu, build_request(1, 16, a, 2, data=[hi, lo]))


def test_write_lock_opens_for_a_bounded_time():
    rtu, bank, ctl, cfg = server()
    assert refused(_cfg_write(rtu, "band_up_kw", 100))
    assert refused(xfer(rtu, build_request(1, 6, 0x001E, 9)))  # unit id
    assert cfg.band_up_kw == 1000 and bank.unit_id == 1
    assert ok(xfer(rtu, request(1, frame(1, 1, CMD_UNLOCK, 8000))))
    assert _cfg_write(rtu, "band_up_kw", 100)[1] == 16 and cfg.band_up_kw == 100
    # 8 s of control-step time later (two 4 s lock-step steps) the lock is closed again
    t = regcodec.holding_by_name("sim_time_ms")[0]
    for ms in (4000, 8000):
        hi, lo = regcodec.s32_words(ms)
        assert xfer(rtu, build_request(1, 16, t, 2, data=[hi, lo]))[1] == 16
    assert bank.steps == 2 and bank.auth.unlock_ms == 0
    assert refused(_cfg_write(rtu, "band_up_kw", 200)) and cfg.band_up_kw == 100
    # an unlock above 10 min is refused (exception 03), and 0 closes the lock at once
    r = xfer(rtu, request(1, frame(1, 2, CMD_UNLOCK, auth.UNLOCK_MAX_MS + 1)))
    assert r[1] == 0x90 and r[2] == 3 and bank.auth.unlock_ms == 0
    assert ok(xfer(rtu, request(1, frame(1, 3, CMD_UNLOCK, 60000))))
    assert ok(xfer(rtu, request(1, frame(1, 4, CMD_UNLOCK, 0))))
    assert refused(_cfg_write(rtu, "band_up_kw", 200))


def test_unlocked_unit_still_refuses_broadcast_config():
    rtu, bank, ctl, cfg = server()
    assert ok(xfer(rtu, request(1, frame(1, 1, CMD_UNLOCK, 60000))))
    a = regmap.CFG_BASE + 2 * field_index("band_up_kw")
    assert xfer(rtu, build_request(0, 16, a, 2, data=[0, 100])) == b""
    assert cfg.band_up_kw == 1000


def test_own_clock_refuses_time():
    rtu, bank, ctl, cfg = server(lockstep=False)
    t = regcodec.holding_by_name("sim_time_ms")[0]
    assert refused(xfer(rtu, build_request(1, 16, t, 2, data=[0, 4000])))
    assert bank.steps == 0 and bank.sim_time_ms == 0


def test_floor_reserved_ahead_and_kept_on_restart():
    saved = []
    rtu, bank, ctl, cfg = server(saved=saved)
    assert ok(xfer(rtu, request(1, frame(1, 10, CMD_SETPOINT, 1))))
    assert ok(xfer(rtu, request(1, frame(1, 11, CMD_SETPOINT, 2))))
    assert saved == [10 + auth.RESERVE]  # one write for the next 4096 numbers
    # a restart boots with the floor: everything up to it counts as used
    a = Auth(KEY, KID, saved[-1])
    assert not a.check(1, frame(1, 11, CMD_SETPOINT, 2), 0)
    assert not a.check(1, frame(1, saved[-1], CMD_SETPOINT, 2), 0)
    assert a.check(1, frame(1, saved[-1] + 1, CMD_SETPOINT, 2), 0)


def test_floor_write_failure_refuses():
    def fail(_floor):
        raise OSError(28)

    a = Auth(KEY, KID, 0, fail)
    assert not a.check(1, frame(1, 1, CMD_SETPOINT, 2), 0)
    assert (a.seq_hi, a.seq_lo, a.floor) == (0, 0, 0)


def test_parse_key():
    kid, key = auth.parse_key("7 " + "ab" * 32 + "\n")
    assert kid == 7 and key == bytes([0xAB]) * 32
    for bad in ("", "7", "0 " + "ab" * 32, "7 " + "ab" * 8, "7 " + "zz" * 32, "x " + "ab" * 32,
                "7 " + "abc" * 11):
        try:
            auth.parse_key(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_locked_unit_serves_lockstep_and_refusals_without_allocating():
    if sys.implementation.name != "micropython":
        return
    import gc

    import micropython
    rtu, bank, ctl, cfg = server()
    assert ok(xfer(rtu, request(1, frame(1, 1, CMD_UNLOCK, 600000))))
    regs = regcodec.encode_holding({"f_mhz": 50020, "mode": 0, "soc_x100": 5000,
                                    "sim_time_ms": 1000})
    step = bytearray(build_request(1, 23, regmap.MIRROR_BASE, regmap.INPUT_COUNT, 0,
                                   regmap.LOCKSTEP_WRITE_COUNT, data=regs))
    t_lo = 11 + 2 * regcodec.holding_by_name("sim_time_ms")[0] + 2
    a = regmap.CFG_BASE + 2 * field_index("band_up_kw")
    bad = (build_request(1, 16, a, 2, data=[0, 100]),  # config: locked again below
           build_request(0, 6, 0x0001, 2),  # a broadcast mode change
           build_request(1, 16, regcodec.holding_by_name("remote_sp_kw")[0], 2, data=[0, 9]))

    def feed(req):
        for i in range(len(req)):
            rtu.chunk[i % 64] = req[i]
            if i % 64 == 63 or i == len(req) - 1:
                rtu.feed(i % 64 + 1)
        n = rtu.complete()
        if n == 0 and rtu.pending():
            n = rtu.at_silence()
        return n

    assert ok(xfer(rtu, request(1, frame(1, 2, CMD_UNLOCK, 0))))  # (allocates: the MAC)
    feed(step)
    for req in bad:
        feed(req)
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        for k in range(20):
            step[t_lo + 1] = k + 1  # a new simulated time: one control step per frame
            c = crc16(step, len(step) - 2, 0)
            step[len(step) - 2] = c & 0xFF
            step[len(step) - 1] = c >> 8
            n = feed(step)
            for req in bad:
                feed(req)
    finally:
        micropython.heap_unlock()
    assert n == 5 + 2 * regmap.INPUT_COUNT and bank.steps == 21
    assert bank.auth_rejects == 3 * 21 and cfg.band_up_kw == 1000
    assert gc.mem_alloc() == before


def test_no_heap_for_the_mac_answers_04_and_changes_nothing():
    class Short(Auth):
        def check(self, unit_id, buf, p):
            raise MemoryError()

    rtu, bank, ctl, cfg = server()
    bank.auth = Short(KEY, KID)
    r = xfer(rtu, request(1, frame(1, 1, CMD_SETPOINT, 500)))
    assert r[1] == 0x90 and r[2] == 4
    assert ctl.meas.remote_sp_kw == 0 and bank.remote_seq == 0 and bank.auth_rejects == 0
