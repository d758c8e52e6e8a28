# Firmware Modbus RTU codec and unit register bank: bytes on the wire, CPython and Unix port.
import sys

from afrr import regmap
from afrr.config import Config
from afrr.controller import Controller
from afrr.modbus import RTU, build_request, crc16
from afrr.unitregs import UnitRegisters

try:
    from hil import regcodec  # CPython (pytest)
except ImportError:  # the Unix port: hil/__init__ needs CPython; tests/mp_runner.py adds hil/
    import regcodec


def _server(unit=1):
    cfg = Config()
    ctl = Controller(cfg)
    bank = UnitRegisters(ctl, cfg, unit_id=unit)
    rtu = RTU(bank)
    bank.rtu = rtu
    return rtu, bank, ctl, cfg


def _xfer(rtu, frame):
    """Feed one frame, return the reply bytes (b'' for none) via the fast path or the silence."""
    rtu.feed_bytes(frame)
    n = rtu.complete()
    if n == 0 and rtu.pending():
        n = rtu.at_silence()
    return bytes(rtu.tx[:n])


def _words(reply):
    return [(reply[3 + 2 * i] << 8) | reply[4 + 2 * i] for i in range(reply[2] // 2)]


def _s32(words):
    hi, lo = words
    v = (hi << 16) | lo
    return v - (1 << 32) if hi & 0x8000 else v


def test_crc_known_vector():
    frame = bytes([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A])
    c = crc16(frame, 6)
    assert c & 0xFF == 0xC5 and c >> 8 == 0xCD
    assert build_request(1, 3, 0, 10) == frame + bytes([0xC5, 0xCD])


def test_read_holding_defaults_exact_bytes():
    rtu, bank, ctl, cfg = _server()
    reply = _xfer(rtu, build_request(1, 3, 0, 2))
    f = ctl.meas.f_mhz
    body = bytes([1, 3, 4, f >> 8, f & 0xFF, 0, 0])
    c = crc16(body, len(body))
    assert reply == body + bytes([c & 0xFF, c >> 8])
    assert rtu.frames_ok == 1


def test_write_single_echo_and_mode():
    rtu, bank, ctl, cfg = _server()
    req = build_request(1, 6, 0x0001, 1)
    assert _xfer(rtu, req) == req
    assert ctl.mode == 1


def test_write_multiple_s32_negative_roundtrip():
    rtu, bank, ctl, cfg = _server()
    hi, lo = regcodec.s32_words(-123456)
    reply = _xfer(rtu, build_request(1, 16, 0x0004, 2, data=[hi, lo]))
    assert reply[:6] == bytes([1, 16, 0, 4, 0, 2])
    assert ctl.meas.ties_kw[1] == -123456
    words = _words(_xfer(rtu, build_request(1, 3, 0x0004, 2)))
    assert _s32(words) == -123456


def test_fc23_lockstep_runs_one_step_per_new_time():
    rtu, bank, ctl, cfg = _server()
    vals = {"f_mhz": 49900, "mode": 1, "soc_x100": 5000, "tod_ms": 4000, "sim_time_ms": 4000}
    regs = regcodec.encode_holding(vals)
    req = build_request(1, 23, regmap.MIRROR_BASE, regmap.INPUT_COUNT,
                        regmap.LOCKSTEP_WRITE_ADDR, regmap.LOCKSTEP_WRITE_COUNT, data=regs)
    reply = _xfer(rtu, req)
    assert reply[1] == 23 and reply[2] == 2 * regmap.INPUT_COUNT
    out = regcodec.decode_input(_words(reply))
    assert out["steps"] == 1 and out["sim_time_ms"] == 4000
    assert out["ace_kw"] == ctl.out.ace_kw and out["ace_kw"] < 0  # under-frequency
    assert out["p_set_kw"] == ctl.out.p_set_kw
    # the same time again (a retry) does not step
    out = regcodec.decode_input(_words(_xfer(rtu, req)))
    assert out["steps"] == 1 and bank.steps == 1


def test_exception_01_unknown_function():
    rtu, bank, ctl, cfg = _server()
    reply = _xfer(rtu, build_request(1, 0x2B, 0, 0))
    body = bytes([1, 0xAB, 1])
    c = crc16(body, 3)
    assert reply == body + bytes([c & 0xFF, c >> 8])
    assert rtu.exceptions == 1


def test_exception_02_reserved_unmapped_and_half_field():
    rtu, bank, ctl, cfg = _server()
    for req in (build_request(1, 3, 0x0200, 1), build_request(1, 6, 0x0300, 5),
                build_request(1, 4, regmap.INPUT_COUNT - 1, 2),
                build_request(1, 6, 0x0003, 5),  # low word of tie_kw_0
                build_request(1, 16, 0x0002, 1, data=[0]),  # half an s32
                build_request(1, 6, regmap.MIRROR_BASE, 1)):  # outputs are read-only
        reply = _xfer(rtu, req)
        assert reply[1] == req[1] | 0x80 and reply[2] == 2, (req, reply)
    assert ctl.meas.ties_kw[0] == 0


def test_exception_03_keeps_previous_value():
    rtu, bank, ctl, cfg = _server()
    assert _xfer(rtu, build_request(1, 6, 0x0001, 2))[1] == 6
    reply = _xfer(rtu, build_request(1, 6, 0x0001, 7))
    assert reply[1] == 0x86 and reply[2] == 3
    assert ctl.mode == 2
    # a multi-field write with one bad value changes nothing
    hi, lo = regcodec.s32_words(777)
    reply = _xfer(rtu, build_request(1, 16, 0x0012, 3, data=[hi, lo, 20000]))
    assert reply[2] == 3 and ctl.meas.sched_kw == 0
    # count out of the spec's range
    assert _xfer(rtu, build_request(1, 3, 0, 126))[2] == 3


def test_config_block_write_validated():
    rtu, bank, ctl, cfg = _server()
    from afrr.config import field_index
    a = regmap.CFG_BASE + 2 * field_index("band_up_kw")
    words = _words(_xfer(rtu, build_request(1, 3, a, 2)))
    assert _s32(words) == cfg.band_up_kw
    hi, lo = regcodec.s32_words(500)
    assert _xfer(rtu, build_request(1, 16, a, 2, data=[hi, lo]))[1] == 16
    assert cfg.band_up_kw == 500
    hi, lo = regcodec.s32_words(cfg.rating_kw + 1)  # band above rating: cross-field rule
    assert _xfer(rtu, build_request(1, 16, a, 2, data=[hi, lo]))[2] == 3
    assert cfg.band_up_kw == 500
    assert _xfer(rtu, build_request(1, 16, a + 1, 2, data=[0, 0]))[2] == 2


def test_broadcast_applies_measurements_without_reply():
    rtu, bank, ctl, cfg = _server()
    assert _xfer(rtu, build_request(0, 6, 0x0000, 49_900)) == b""
    assert ctl.meas.f_mhz == 49_900 and rtu.broadcasts == 1
    assert _xfer(rtu, build_request(0, 3, 0, 1)) == b""  # reads are never broadcast
    assert _xfer(rtu, build_request(0, 6, 0x0001, 9)) == b""  # no exception either
    assert rtu.exceptions == 0


def test_broadcast_never_changes_mode_unit_time_or_config():
    # even on the open bench profile (no key), where the same writes addressed to the unit pass
    rtu, bank, ctl, cfg = _server()
    from afrr.config import field_index
    a = regmap.CFG_BASE + 2 * field_index("band_up_kw")
    hi, lo = regcodec.s32_words(500)
    t = regcodec.s32_words(4000)
    for req in (build_request(0, 6, 0x0001, 1), build_request(0, 6, 0x001E, 9),
                build_request(0, 16, 0x001A, 2, data=list(t)),
                build_request(0, 16, a, 2, data=[hi, lo])):
        assert _xfer(rtu, req) == b""
    assert (ctl.mode, bank.unit_id, bank.sim_time_ms, bank.steps) == (0, 1, 0, 0)
    assert cfg.band_up_kw == 1000 and bank.auth_rejects == 4 and rtu.exceptions == 0
    # writing the value in force is no change, so a broadcast may carry it
    assert _xfer(rtu, build_request(0, 6, 0x0001, 0)) == b"" and bank.auth_rejects == 4
    assert _xfer(rtu, build_request(1, 6, 0x0001, 1))[1] == 6 and ctl.mode == 1


def test_bad_crc_and_other_unit_ignored():
    rtu, bank, ctl, cfg = _server()
    req = bytearray(build_request(1, 6, 0x0001, 1))
    req[-1] ^= 0x01
    assert _xfer(rtu, req) == b""
    assert rtu.crc_errors == 1 and rtu.bytes_dropped == 8 and ctl.mode == 0
    assert _xfer(rtu, build_request(2, 6, 0x0001, 1)) == b""
    assert rtu.frames_other == 1 and ctl.mode == 0
    assert _xfer(rtu, b"\x01\x03") == b""  # too short: counted at the silence
    assert rtu.crc_errors == 2


def test_split_frame_completes():
    rtu, bank, ctl, cfg = _server()
    req = build_request(1, 3, 0, 1)
    rtu.feed_bytes(req[:3])
    assert rtu.complete() == 0
    rtu.feed_bytes(req[3:])
    assert rtu.complete() == 7


def test_unit_id_change_applies_after_reply():
    rtu, bank, ctl, cfg = _server()
    req = build_request(1, 6, 0x001E, 7)
    assert _xfer(rtu, req) == req
    assert _xfer(rtu, build_request(1, 3, 0, 1)) == b""
    assert _xfer(rtu, build_request(7, 3, 0, 1))[0] == 7


def test_frame_handling_allocates_nothing():
    if sys.implementation.name != "micropython":
        return
    import gc

    import micropython
    rtu, bank, ctl, cfg = _server()
    regs = regcodec.encode_holding({"f_mhz": 50020, "mode": 1, "soc_x100": 5000,
                                    "sim_time_ms": 1000})
    req = bytearray(build_request(1, 23, regmap.MIRROR_BASE, regmap.INPUT_COUNT, 0,
                                  regmap.LOCKSTEP_WRITE_COUNT, data=regs))
    t_lo = 11 + 2 * regcodec.holding_by_name("sim_time_ms")[0] + 2  # low word of the time
    half = len(req) // 2

    def feed_req():
        for i in range(half):
            rtu.chunk[i] = req[i]
        rtu.feed(half)
        for i in range(half, len(req)):
            rtu.chunk[i - half] = req[i]
        rtu.feed(len(req) - half)

    feed_req()
    rtu.complete()
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        for k in range(50):
            req[t_lo + 1] = k  # a new simulated time: one control step per frame
            c = crc16(req, len(req) - 2)
            req[len(req) - 2] = c & 0xFF
            req[len(req) - 1] = c >> 8
            feed_req()
            n = rtu.complete()
        feed_req()
        rtu.rx[5] ^= 0xFF
        rtu.complete()
        rtu.at_silence()
    finally:
        micropython.heap_unlock()
    assert n == 5 + 2 * regmap.INPUT_COUNT
    assert bank.steps == 51  # the warm-up step and 50 under the lock
    assert gc.mem_alloc() == before


def test_two_frames_in_one_read_both_handled():
    rtu, bank, ctl, cfg = _server()
    rtu.feed_bytes(build_request(0, 6, 0x0000, 49_950) + build_request(1, 3, 0, 1))
    assert rtu.complete() == 0 and rtu.handled and rtu.pending() == 8  # broadcast: no reply
    assert rtu.complete() == 7 and rtu.pending() == 0
    assert ctl.meas.f_mhz == 49_950 and rtu.crc_errors == 0
