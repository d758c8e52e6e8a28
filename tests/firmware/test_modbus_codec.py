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
    c = crc16(frame, 6, 0)
    assert c & 0xFF == 0xC5 and c >> 8 == 0xCD
    assert build_request(1, 3, 0, 10) == frame + bytes([0xC5, 0xCD])


def test_read_holding_defaults_exact_bytes():
    rtu, bank, ctl, cfg = _server()
    reply = _xfer(rtu, build_request(1, 3, 0, 2))
    f = ctl.meas.f_mhz
    body = bytes([1, 3, 4, f >> 8, f & 0xFF, 0, 0])
    c = crc16(body, len(body), 0)
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
    c = crc16(body, 3, 0)
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
            c = crc16(req, len(req) - 2, 0)
            req[len(req) - 2] = c & 0xFF
            req[len(req) - 1] = c >> 8
            feed_req()
            n = rtu.complete()
        feed_req()
        rtu.rx[5] ^= 0xFF
        rtu.complete()
        rtu.at_silence()
        feed_req()  # a frame with a bad CRC, its retry right behind it: resynchronised
        rtu.rx[5] ^= 0xFF
        feed_req()
        r = rtu.complete()
    finally:
        micropython.heap_unlock()
    assert n == 5 + 2 * regmap.INPUT_COUNT and r == n
    assert rtu.crc_errors == 2 and rtu.bytes_dropped == 2 * len(req)
    assert bank.steps == 51  # the warm-up step and 50 under the lock
    assert gc.mem_alloc() == before


def test_two_frames_in_one_read_both_handled():
    rtu, bank, ctl, cfg = _server()
    rtu.feed_bytes(build_request(0, 6, 0x0000, 49_950) + build_request(1, 3, 0, 1))
    assert rtu.complete() == 0 and rtu.handled and rtu.pending() == 8  # broadcast: no reply
    assert rtu.complete() == 7 and rtu.pending() == 0
    assert ctl.meas.f_mhz == 49_950 and rtu.crc_errors == 0


def test_bad_frame_then_its_retry_before_the_silence():
    # fast path: a request that lost a byte, then the client's retry in the same read: the bad
    # bytes are one CRC error (as many bytes dropped as reached the unit), the retry is answered
    rtu, bank, ctl, cfg = _server()
    req = build_request(1, 6, 0x0001, 1)
    lost = req[:3] + req[4:]
    rtu.feed_bytes(lost + req)
    assert rtu.complete() == 8 and rtu.handled and rtu.pending() == 0
    assert rtu.crc_errors == 1 and rtu.bytes_dropped == 7 and ctl.mode == 1
    # a flipped bit: whole by its length, wrong CRC; the retry follows
    flipped = bytearray(req)
    flipped[5] ^= 0x10
    rtu.feed_bytes(bytes(flipped) + build_request(1, 3, 0, 1))
    assert rtu.complete() == 7 and rtu.crc_errors == 2 and rtu.bytes_dropped == 15
    # garbage with an unknown function code, then a request
    rtu.feed_bytes(b"\x01\x55\x00" + req)
    assert rtu.complete() == 8 and rtu.crc_errors == 3 and rtu.bytes_dropped == 18
    # a write whose byte count was hit (it claims 200 more bytes), then its retry
    regs = [5, 6]
    w = bytearray(build_request(1, 16, 0x0002, 2, data=regs))
    w[6] = 200
    rtu.feed_bytes(bytes(w) + build_request(1, 16, 0x0002, 2, data=regs))
    assert rtu.complete() == 8 and rtu.crc_errors == 4 and rtu.bytes_dropped == 18 + len(w)
    assert rtu.pending() == 0


def test_incomplete_frame_is_not_resynchronised():
    # a request still arriving is never cut short by a look for a later frame
    rtu, bank, ctl, cfg = _server()
    regs = regcodec.encode_holding({"f_mhz": 50000, "mode": 1, "soc_x100": 5000,
                                    "sim_time_ms": 4000})
    req = build_request(1, 16, 0, len(regs), data=regs)
    for k in range(1, len(req)):
        rtu.feed_bytes(req[k - 1:k])
        assert rtu.complete() == 0 and not rtu.handled
    rtu.feed_bytes(req[-1:])
    assert rtu.complete() == 8 and rtu.crc_errors == 0 and bank.steps == 1


def _crc_bitwise(data):
    # the CRC as the Modbus spec defines it, bit by bit: no table, nothing shared with the firmware
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_crc_equals_the_bitwise_definition_at_any_offset():
    # crc16 is viper, a nibble at a time, on MicroPython and a byte-wide table on CPython (where
    # the viper code, run as plain Python, is checked too): the spec's integers either way
    from afrr import modbus
    fns = [crc16] + [getattr(modbus, "_crc16_nibble", crc16)]
    buf = bytearray(300)
    x = 12345
    for i in range(len(buf)):
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        buf[i] = (x >> 16) & 0xFF
    for fn in fns:
        for o, n in ((0, 0), (0, 1), (0, 300), (3, 67), (17, 109), (299, 1), (100, 200)):
            assert fn(buf, n, o) == _crc_bitwise(buf[o:o + n]), (o, n)
            assert fn(bytes(buf), n, o) == fn(buf, n, o)
        assert fn(b"", 0, 0) == 0xFFFF


class _Reads:
    """A port whose readinto() hands over the given pieces one per call; records the buffers."""

    def __init__(self, *pieces):
        self.pieces = list(pieces)
        self.into = []

    def readinto(self, buf):
        self.into.append(buf)
        data = self.pieces.pop(0)
        buf[0:len(data)] = data
        return len(data)


def test_a_request_read_at_once_lands_in_place():
    rtu, bank, ctl, cfg = _server()
    req = build_request(1, 3, 0, 2)
    port = _Reads(req, req[:3], req[3:])
    assert rtu.receive(port) == 8 and port.into[0] is rtu.rx  # read straight into rx
    assert rtu.complete() == 9 and rtu.pending() == 0
    # a request in two reads: the first lands in place, the rest is appended through the chunk
    assert rtu.receive(port) == 3 and rtu.complete() == 0
    assert rtu.receive(port) == 5 and port.into[2] is rtu.chunk
    assert rtu.pending() == 8 and rtu.complete() == 9
    assert bytes(rtu.tx[:9]) == _xfer(rtu, req) and rtu.frames_ok == 3


def test_input_reads_of_any_range_match_the_values():
    rtu, bank, ctl, cfg = _server()
    vals = {"f_mhz": 49800, "mode": 1, "soc_x100": 5000, "tod_ms": 4000, "sim_time_ms": 4000,
            "tie_kw_0": -12345}
    for k in range(1, 4):  # negative ACE (S32 words of a negative value), a set-point
        vals["sim_time_ms"] = vals["tod_ms"] = 4000 * k
        _xfer(rtu, build_request(1, 23, regmap.MIRROR_BASE, 1, 0, regmap.LOCKSTEP_WRITE_COUNT,
                                 data=regcodec.encode_holding(vals)))
    words = _words(_xfer(rtu, build_request(1, 4, 0, regmap.INPUT_COUNT)))
    out = regcodec.decode_input(words)
    srcs = (ctl.out, ctl.energy, rtu, bank)  # regmap S_OUT, S_ENERGY, S_LINK, S_UNIT
    for row in regmap.INPUT:
        assert out[row[1]] == getattr(srcs[row[4]], row[1]), row
    assert out["ace_kw"] < 0 and out["p_set_kw"] != 0 and out["steps"] == 3
    # every start and length, inside a field or across fields: the same words
    for a in range(regmap.INPUT_COUNT):
        for c in (1, 2, 3, 5, regmap.INPUT_COUNT - a):
            if a + c <= regmap.INPUT_COUNT:
                got = _words(_xfer(rtu, build_request(1, 4, a, c)))
                # (frames_ok and the other link counters move with every read)
                assert all(got[j] == words[a + j] for j in range(c)
                           if not 0x18 <= a + j < 0x24), (a, c)


def test_a_write_range_is_checked_whatever_came_before():
    rtu, bank, ctl, cfg = _server()
    regs = regcodec.encode_holding({"f_mhz": 50000, "mode": 1, "soc_x100": 5000,
                                    "tie_kw_0": 42, "sim_time_ms": 4000})
    block = build_request(1, 16, 0, regmap.LOCKSTEP_WRITE_COUNT, data=regs)
    assert _xfer(rtu, block)[1] == 16 and ctl.meas.ties_kw[0] == 42
    for a, c in ((0, 3), (3, 2), (1, 2), (0, regmap.HOLD_COUNT + 1)):  # ends or starts in a field
        reply = _xfer(rtu, build_request(1, 16, a, c, data=(regs + [0] * 40)[a:a + c]))
        assert reply[1] == 0x90 and reply[2] == 2, (a, c, reply)
    assert ctl.meas.ties_kw[0] == 42 and bank.steps == 1
    regs[3] = 43  # tie_kw_0 low word
    assert _xfer(rtu, build_request(1, 16, 0, regmap.LOCKSTEP_WRITE_COUNT, data=regs))[1] == 16
    assert ctl.meas.ties_kw[0] == 43
