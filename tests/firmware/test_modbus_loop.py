# firmware/main.py's serve() loop with a fake link and a fake clock: frame boundaries by silence,
# lock-step replies, real-time steps and the stale flag. Runs under CPython and the Unix port.
from app import serve
from fakes import Clock, ScriptedPort, Stop
from hal.unix_args import UsageError, parse_args

from afrr import regmap
from afrr.config import Config
from afrr.controller import F_FAILSAFE, F_STALE, MODE_LOCAL
from afrr.modbus import RTU, build_request
from afrr.unitregs import UnitRegisters

try:
    from hil import regcodec  # CPython (pytest)
except ImportError:  # the Unix port: hil/__init__ needs CPython; tests/mp_runner.py adds hil/
    import regcodec


def _server(lockstep=True, **cfgv):
    from afrr.controller import Controller
    cfg = Config(**cfgv)
    ctl = Controller(cfg)
    bank = UnitRegisters(ctl, cfg, unit_id=1, lockstep=lockstep)
    rtu = RTU(bank)
    bank.rtu = rtu
    return rtu, bank, ctl


def _run(rtu, bank, script, t_end, realtime=False, steps_max=0, strict=True):
    clock = Clock()
    port = ScriptedPort(clock, script, t_end, drain=True)
    try:
        serve(port, rtu, bank, clock.ticks_ms, clock.ticks_diff, 4, realtime, steps_max,
              strict=strict)
    except Stop:
        pass
    return port


def test_split_frame_inside_silence_is_one_frame():
    rtu, bank, ctl = _server()
    req = build_request(1, 3, 0, 1)
    port = _run(rtu, bank, [(10, req[:3]), (12, req[3:])], 100)
    assert len(port.sent) == 1 and port.sent[0][:3] == bytes([1, 3, 2])
    assert rtu.crc_errors == 0


def test_gap_longer_than_silence_splits_the_frame():
    rtu, bank, ctl = _server()
    req = build_request(1, 3, 0, 1)
    port = _run(rtu, bank, [(10, req[:3]), (30, req[3:])], 100)
    assert port.sent == [] and rtu.crc_errors == 2 and rtu.bytes_dropped == 8


def test_fast_path_waits_for_the_rest_of_a_frame_whatever_the_gap():
    # the Unix port's pty: a loaded host may hold back the rest of a frame past the silence
    rtu, bank, ctl = _server()
    req = build_request(1, 3, 0, 1)
    port = _run(rtu, bank, [(10, req[:3]), (300, req[3:])], 400, strict=False)
    assert len(port.sent) == 1 and rtu.crc_errors == 0 and rtu.bytes_dropped == 0


def test_fast_path_a_frame_short_of_bytes_is_one_error_when_the_retry_comes():
    # a request that lost a byte waits (it may still be arriving); the client's retry after its
    # timeout proves it bad: one CRC error, its 7 bytes dropped, and the retry answered
    rtu, bank, ctl = _server()
    req = build_request(1, 6, 0x0001, 1)
    port = _run(rtu, bank, [(10, req[:3] + req[4:]), (210, req)], 400, strict=False)
    assert port.sent == [req] and rtu.crc_errors == 1 and rtu.bytes_dropped == 7
    assert ctl.mode == 1
    # a request with a wrong CRC is known bad at once: discarded at the silence
    bad = bytearray(req)
    bad[-1] ^= 0x40
    port = _run(rtu, bank, [(10, bytes(bad))], 100, strict=False)
    assert port.sent == [] and rtu.crc_errors == 2 and rtu.bytes_dropped == 15
    # so is a frame addressed elsewhere that is still short: the silence ends it
    port = _run(rtu, bank, [(10, b"\x07\x03\x00")], 100, strict=False)
    assert rtu.crc_errors == 3 and rtu.pending() == 0


def test_fast_path_every_try_corrupted_each_counts_once():
    # three tries of one step, each hit on the line, then the next step's request: the first
    # lost a byte of its byte count (its header now promises 208 bytes), the second lost a
    # byte, the third had a bit flipped. Each is one CRC error with exactly the bytes that
    # came, and the next request is answered: nothing piles up in the buffer
    rtu, bank, ctl = _server()
    regs = regcodec.encode_holding({"f_mhz": 50000, "mode": 1, "soc_x100": 5000,
                                    "sim_time_ms": 4000})
    req = build_request(1, 23, regmap.MIRROR_BASE, 2, 0, len(regs), data=regs)
    a1 = req[:8] + req[9:]  # 0x00 0x1C -> 0x00 then the byte count: 13 + 0xC3 bytes promised
    a2 = req[:20] + req[21:]
    a3 = bytearray(req)
    a3[30] ^= 0x04
    regs2 = regcodec.encode_holding({"f_mhz": 50000, "mode": 1, "soc_x100": 5000,
                                     "sim_time_ms": 8000})
    nxt = build_request(1, 23, regmap.MIRROR_BASE, 2, 0, len(regs2), data=regs2)
    script = [(10, a1), (70, a2), (130, bytes(a3)), (190, nxt)]
    port = _run(rtu, bank, script, 400, strict=False)
    assert rtu.crc_errors == 3 and rtu.bytes_dropped == 68 + 68 + 69
    assert len(port.sent) == 1 and bank.steps == 1 and bank.sim_time_ms == 8000


def test_strict_framing_trailing_bytes_make_the_frame_invalid():
    # RTU as specified (boards): the frame ends at the silence, so a byte after the CRC inside
    # the 3.5-character time makes the whole frame invalid: no reply, one CRC error
    rtu, bank, ctl = _server()
    req = build_request(1, 3, 0, 1)
    port = _run(rtu, bank, [(10, req), (12, b"\x55")], 100)
    assert port.sent == [] and rtu.crc_errors == 1 and rtu.bytes_dropped == 9
    # the same bytes after a silence: the request is answered
    port = _run(rtu, bank, [(10, req)], 100)
    assert len(port.sent) == 1 and rtu.frames_ok == 1


def test_fast_path_answers_at_the_crc_and_drops_the_trailer():
    # the Unix-port deviation: the request is answered once whole by its length and CRC
    rtu, bank, ctl = _server()
    req = build_request(1, 3, 0, 1)
    port = _run(rtu, bank, [(10, req), (12, b"\x55")], 100, strict=False)
    assert len(port.sent) == 1 and rtu.frames_ok == 1
    assert rtu.crc_errors == 1 and rtu.bytes_dropped == 1


def test_strict_framing_two_requests_without_a_gap_are_one_bad_frame():
    rtu, bank, ctl = _server()
    req = build_request(1, 3, 0, 1)
    port = _run(rtu, bank, [(10, req + req)], 100)
    assert port.sent == [] and rtu.crc_errors == 1 and rtu.bytes_dropped == 16
    port = _run(rtu, bank, [(10, req + req)], 100, strict=False)
    assert len(port.sent) == 2 and rtu.crc_errors == 1


def test_lockstep_step_per_time_write():
    rtu, bank, ctl = _server()
    script = []
    for k in range(1, 4):
        regs = regcodec.encode_holding({"f_mhz": 50000, "mode": 1, "soc_x100": 5000,
                                        "sim_time_ms": 4000 * k})
        script.append((100 * k, build_request(1, 16, 0, len(regs), data=regs)))
    port = _run(rtu, bank, script, 1000)
    assert len(port.sent) == 3 and bank.steps == 3 and bank.sim_time_ms == 12000


def test_realtime_steps_on_own_clock_and_goes_stale():
    rtu, bank, ctl = _server(lockstep=False, cycle_ms=1000, max_age_ms=3000, hold_cycles=1)
    ctl.set_mode(MODE_LOCAL)
    regs = regcodec.encode_holding({"f_mhz": 50000, "mode": 1, "soc_x100": 5000,
                                    "tod_ms": 123000})[:0x001A]  # not the time: refused
    port = _run(rtu, bank, [(500, build_request(1, 16, 0, len(regs), data=regs))], 10000,
                realtime=True, steps_max=8)
    assert len(port.sent) == 1
    assert bank.steps == 8
    assert bank.status & regmap.ST_STALE and bank.status & regmap.ST_REALTIME
    assert ctl.out.flags & F_STALE and ctl.out.flags & F_FAILSAFE
    # the firmware's own clock carries the time of day on from the last written value
    assert 7000 <= ctl.meas.tod_ms - 123000 <= 9000


def test_parse_args():
    o = parse_args(["--device", "/dev/pts/3", "--realtime", "--unit", "7"])
    assert o["device"] == "/dev/pts/3" and o["realtime"] and o["unit"] == 7
    for bad in ([], ["--device"], ["--device", "x", "--unit", "0"], ["--bogus"],
                ["--device", "x", "--silence-ms", "abc"]):
        try:
            parse_args(bad)
        except UsageError:
            pass
        else:
            raise AssertionError(bad)


class _Uart:
    def __init__(self, data=b""):
        self.data = data
        self.out = []

    def any(self):
        return len(self.data)

    def readinto(self, buf):
        if not self.data:
            return None  # a board UART returns None when nothing is waiting
        n = min(len(buf), len(self.data))
        for i in range(n):
            buf[i] = self.data[i]
        self.data = self.data[n:]
        return n

    def write(self, b):
        self.out.append(("tx", bytes(b)))

    def flush(self):
        self.out.append(("flush", b""))


class _Pin:
    def __init__(self, log):
        self.log = log

    def value(self, v):
        self.log.append(("de", v))


def test_board_uart_port_drives_rs485_direction_pin():
    from hal.board_uart import UartPort, silence_ms
    u = _Uart(b"\x01\x03")
    port = UartPort(u, _Pin(u.out))
    buf = bytearray(8)
    assert port.readinto(buf) == 2 and port.readinto(buf) == 0
    port.write(bytearray(b"abcdef"), 3)
    assert u.out == [("de", 0), ("de", 1), ("tx", b"abc"), ("flush", b""), ("de", 0)]
    assert silence_ms(115200) == 2 and silence_ms(9600) == 5


class _StaticPort:
    """Replays one request `times` times, 10 ms apart, from a preallocated buffer; allocates
    nothing."""

    def __init__(self, clock, frame, times, stop):
        self.clock = clock
        self.frame = frame
        self.left = times
        self.stop = stop
        self.pending = False
        self.replies = 0
        self.next_t = 0

    def wait(self, timeout_ms):
        c = self.clock
        if self.left and not self.pending and self.next_t <= c.t + timeout_ms:
            if self.next_t > c.t:
                c.t = self.next_t
            self.pending = True
            self.next_t = c.t + 10
            return True
        c.t += timeout_ms if timeout_ms > 0 else 1
        if not self.left and c.t >= self.next_t:  # the last frame's silence has passed
            raise self.stop
        return False

    def readinto(self, buf):
        f = self.frame
        n = len(f)
        for i in range(n):
            buf[i] = f[i]
        self.pending = False
        self.left -= 1
        return n

    def write(self, buf, n):
        self.replies += 1


def test_serve_loop_allocates_nothing_per_frame():
    import sys
    if sys.implementation.name != "micropython":
        return
    import gc

    import micropython
    rtu, bank, ctl = _server()
    req = bytearray(build_request(1, 3, 0, 4))  # fits one 64-byte read
    clock = Clock()
    stop = Stop()
    port = _StaticPort(clock, req, 3, stop)
    tm, td = clock.ticks_ms, clock.ticks_diff  # bound methods: made before the lock
    total = 0
    for strict in (True, False):  # RTU framing at the silence, and the Unix port's fast path
        port.left = 3
        try:
            serve(port, rtu, bank, tm, td, 4, strict=strict)  # warm up
        except Stop:
            pass
        port.left = 200
        gc.collect()
        before = gc.mem_alloc()
        micropython.heap_lock()
        try:
            serve(port, rtu, bank, tm, td, 4, strict=strict)
        except Stop:
            pass
        finally:
            micropython.heap_unlock()
        total += 203
        assert port.replies == total and rtu.frames_ok == total
        assert gc.mem_alloc() == before
