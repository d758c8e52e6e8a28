# Hypothesis fuzz of the firmware's RTU parser (CPython): random and mutated frames never raise,
# and the unit's state changes only through a valid write addressed to it.
from hypothesis import given
from hypothesis import strategies as st

from afrr import regmap
from afrr.config import Config
from afrr.controller import Controller
from afrr.modbus import RTU, build_request, crc16
from afrr.unitregs import UnitRegisters
from hil import regcodec


def _server():
    cfg = Config()
    ctl = Controller(cfg)
    bank = UnitRegisters(ctl, cfg, unit_id=1)
    rtu = RTU(bank)
    bank.rtu = rtu
    return rtu, bank, ctl, cfg


def _state(bank, ctl, cfg):
    m = ctl.meas
    return (m.f_mhz, tuple(m.ties_kw), m.sched_kw, m.soc_x100, m.age_ms, m.p_meas_kw,
            m.remote_sp_kw, m.remote_seq, m.tod_ms, ctl.mode, bank.unit_id, bank.sim_time_ms,
            bank.steps, tuple(sorted(cfg.as_dict().items())), tuple(bank._hval))


def _feed_all(rtu, data):
    """Feed in pieces, call complete() as the HAL does, then end with a silence."""
    replies = []
    i = 0
    while i < len(data):
        k = min(len(data) - i, 1 + (data[i] % 40))
        rtu.feed_bytes(data[i:i + k])
        i += k
        r = rtu.complete()
        while True:
            if r:
                replies.append(bytes(rtu.tx[:r]))
            if not (rtu.handled and rtu.pending()):
                break
            r = rtu.complete()
    r = rtu.at_silence()
    if r:
        replies.append(bytes(rtu.tx[:r]))
    return replies


def _valid_write(frame):
    """True if frame is, by an independent reading of the spec, a CRC-valid write to us."""
    n = len(frame)
    if n < 4 or frame[0] not in (0, 1):
        return False
    c = crc16(frame, n - 2, 0)
    if frame[n - 2] != (c & 0xFF) or frame[n - 1] != (c >> 8):
        return False
    return frame[1] in (6, 16, 23)


@given(st.binary(max_size=600))
def test_random_bytes_never_raise_and_never_write(data):
    rtu, bank, ctl, cfg = _server()
    before = _state(bank, ctl, cfg)
    replies = _feed_all(rtu, data)
    if not any(_valid_write(data[i:j]) for i in range(min(len(data), 8))
               for j in range(i + 8, min(len(data), i + 260) + 1)):
        assert _state(bank, ctl, cfg) == before
    for r in replies:  # whatever was answered is a well-formed RTU frame
        assert len(r) >= 5 and crc16(r, len(r) - 2, 0) == r[-2] | (r[-1] << 8)


_addr = st.integers(0, 0x0400)
_requests = st.one_of(
    st.builds(lambda a, c: build_request(1, 3, a, c), _addr, st.integers(0, 130)),
    st.builds(lambda a, c: build_request(1, 4, a, c), _addr, st.integers(0, 130)),
    st.builds(lambda a, v: build_request(1, 6, a, v), _addr, st.integers(0, 0xFFFF)),
    st.builds(lambda a, d: build_request(1, 16, a, len(d), data=d), _addr,
              st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=40)),
    st.builds(lambda ra, rc, wa, d: build_request(1, 23, ra, rc, wa, len(d), data=d),
              _addr, st.integers(0, 130), _addr,
              st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=40)),
)


@given(_requests, st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=4))
def test_mutated_frames_change_nothing_unless_valid(frame, edits):
    rtu, bank, ctl, cfg = _server()
    before = _state(bank, ctl, cfg)
    f = bytearray(frame)
    for pos, val in edits:
        if f:
            f[pos % len(f)] = val
    f = bytes(f)
    replies = _feed_all(rtu, f)
    if f != frame:
        c = crc16(f, len(f) - 2, 0) if len(f) >= 4 else -1
        if len(f) < 4 or f[-2] != (c & 0xFF) or f[-1] != (c >> 8):
            assert _state(bank, ctl, cfg) == before and replies == []
            assert rtu.crc_errors == 1
            return
    # a valid request: any reply is either the echo/data or an exception, never both changed
    for r in replies:
        if r[1] & 0x80:
            assert r[2] in (1, 2, 3)
            assert _state(bank, ctl, cfg)[:13] == before[:13]  # refused: nothing written


@given(st.integers(-regmap.S32_MAX, regmap.S32_MAX))
def test_s32_write_read_roundtrip(v):
    rtu, bank, ctl, cfg = _server()
    a = regcodec.holding_by_name("p_meas_kw")[0]
    hi, lo = regcodec.s32_words(v)
    assert _feed_all(rtu, build_request(1, 16, a, 2, data=[hi, lo]))
    assert ctl.meas.p_meas_kw == v
    r = _feed_all(rtu, build_request(1, 3, a, 2))[0]
    assert regcodec.words_s32((r[3] << 8) | r[4], (r[5] << 8) | r[6]) == v
