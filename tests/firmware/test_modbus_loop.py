# firmware/main.py's serve() loop with a fake link and a fake clock: frame boundaries by silence,
# lock-step replies, real-time steps and the stale flag. Runs under CPython and the Unix port.
from app import UsageError, parse_args, serve
from fakes import Clock, ScriptedPort, Stop

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


def _run(rtu, bank, script, t_end, realtime=False, steps_max=0):
    clock = Clock()
    port = ScriptedPort(clock, script, t_end, drain=True)
    try:
        serve(port, rtu, bank, clock.ticks_ms, clock.ticks_diff, 4, realtime, steps_max)
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
    """Replays one request `times` times from a preallocated buffer; allocates nothing."""

    def __init__(self, clock, frame, times, stop):
        self.clock = clock
        self.frame = frame
        self.left = times
        self.stop = stop
        self.pending = False
        self.replies = 0

    def wait(self, timeout_ms):
        if self.left and not self.pending:
            self.pending = True
            self.clock.t += 10
            return True
        self.clock.t += timeout_ms if timeout_ms > 0 else 1
        if not self.left:
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
    try:
        serve(port, rtu, bank, clock.ticks_ms, clock.ticks_diff, 4)  # warm up
    except Stop:
        pass
    port.left = 200
    tm, td = clock.ticks_ms, clock.ticks_diff  # bound methods: made before the lock
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        serve(port, rtu, bank, tm, td, 4)
    except Stop:
        pass
    finally:
        micropython.heap_unlock()
    assert port.replies == 203 and rtu.frames_ok == 203
    assert gc.mem_alloc() == before
