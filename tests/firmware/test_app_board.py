# firmware/app.py on a board, with tiny duck-typed fakes for the drivers and a fake clock: the
# watchdog is fed only after completed steps, the silent-rig rule, zero-crossing frequency, the
# state-fault status bit and board selection. Runs under CPython and the Unix port.
from app import (
    App,
    _board_opts,
    compose,
    freq_from_zc,
    on_host,
    pick_board,
    serve,
    silent_limit_ms,
)
from fakes import Clock, ScriptedPort, Stop
from hal.store import ST_CORRUPT, ST_DEFAULTS, ST_EMPTY, ST_FALLBACK, ST_OK, ST_REJECTED
from hal.unix_args import UsageError, parse_args
from hal.wdt import Feeder, SoftWDT
from hal.zerocross import TICK_PERIOD, ZeroCross

from afrr import regmap
from afrr.config import Config
from afrr.controller import F_FAILSAFE, F_FREQ_INVALID, F_STALE, MODE_LOCAL, Controller
from afrr.freqmeas import FreqMeter
from afrr.modbus import build_request

try:
    from hil import regcodec  # CPython (pytest)
except ImportError:  # the Unix port: hil/__init__ needs CPython; tests/mp_runner.py adds hil/
    import regcodec

_DEFAULTS = {"rating_kw": 1000, "band_up_kw": 1000, "band_down_kw": 1000, "cap_kwh": 2000}


class _Board:
    NAME = "test"
    UNIT_DEFAULTS = _DEFAULTS
    ZC_PIN = None
    WDT_TIMEOUT_MS = 10000


class _WDT:
    """machine.WDT's duck type: counts feeds and remembers when (fake clock) the last one was."""

    def __init__(self, clock):
        self.clock = clock
        self.feeds = 0
        self.times = []

    def feed(self):
        self.feeds += 1
        self.times.append(self.clock.t)


class _Store:
    """hal.store.StateStore's duck type for boot_state(): a canned load() result and status."""

    def __init__(self, rec, status):
        self.rec = rec
        self.status = status
        self.saved = 0

    def load(self):
        return self.rec

    def save(self, ctl_words, cfg_words, buf=None):
        self.saved += 1
        return self.saved


def _lockstep(vals):
    """FC16 of the whole lock-step block (the rig's write: measurements, then the new time)."""
    data = regcodec.encode_holding(vals)
    return build_request(1, 16, regmap.LOCKSTEP_WRITE_ADDR, len(data), data=data)


def _read_status():
    return build_request(1, 4, regcodec.input_by_name("status")[0], 1)


def _rig(k, f_mhz=50000, t0=100):
    """The rig's k-th lock-step write (1-based) at t0 + 100 * k ms of wall time."""
    vals = {"f_mhz": f_mhz, "mode": MODE_LOCAL, "soc_x100": 5000, "age_ms": 100,
            "tod_ms": 4000 * (k - 1), "sim_time_ms": 4000 * k}
    return (t0 + 100 * k, _lockstep(vals))


def _run(app, script, t_end, silent_max_ms=0, steps_max=0, clock=None, zc=None):
    clock = clock or Clock()
    port = ScriptedPort(clock, script, t_end)
    try:
        serve(port, app.rtu, app.bank, clock.ticks_ms, clock.ticks_diff, 4, False, steps_max,
              zc, app.fm, silent_max_ms)
    except Stop:
        pass
    return port


def test_watchdog_fed_once_per_completed_step_and_never_by_traffic():
    app = compose(_Board)
    clock = Clock()
    wdt = _WDT(clock)
    app.feeder = Feeder(wdt)
    script = [_rig(k) for k in (1, 2, 3)]
    script += [(450 + 10 * k, _read_status()) for k in range(5)]  # replies, but no step
    script.append((600, _lockstep({"f_mhz": 50000, "sim_time_ms": 12000})))  # same time: no step
    port = _run(app, script, 2000, clock=clock)
    assert len(port.sent) == 9
    assert app.bank.steps == 3 and wdt.feeds == 3
    assert wdt.times == [204, 304, 404]  # strict RTU framing: each step at the 4 ms silence


def test_stalled_loop_does_not_feed_and_the_watchdog_expires():
    clock = Clock()
    app = compose(_Board)
    soft = SoftWDT(8000, clock.ticks_ms, clock.ticks_diff)
    app.feeder = Feeder(soft)
    _run(app, [_rig(k) for k in (1, 2)], 1000, clock=clock)
    assert soft.feeds == 2 and not soft.expired()
    # the rig stops and nothing else steps (Unix port: the silent-rig rule is off): no feed
    _run(app, [], 30000, clock=clock)
    assert soft.feeds == 2 and soft.expired() and app.bank.steps == 2


def test_a_step_that_raises_does_not_feed():
    clock = Clock()
    app = compose(_Board)
    wdt = _WDT(clock)
    app.feeder = Feeder(wdt)

    def broken(m, dt):
        raise RuntimeError("stuck")

    _run(app, [_rig(1)], 500, clock=clock)
    app.ctl.step = broken
    raised = False
    try:
        _run(app, [], 30000, silent_max_ms=9000, clock=clock)
    except RuntimeError:
        raised = True
    assert raised and wdt.feeds == 1 and app.bank.steps == 1


def test_silent_rig_steps_on_own_clock_and_fails_safe():
    clock = Clock()
    app = compose(_Board)
    wdt = _WDT(clock)
    app.feeder = Feeder(wdt)
    ctl, bank = app.ctl, app.bank
    set_points = []
    flags = []

    def record():
        App.after_step(app)  # feed, as in the firmware, then note the outputs
        set_points.append(ctl.out.p_set_kw)
        flags.append(ctl.out.flags)

    bank.after_step = record
    script = [_rig(k, f_mhz=49900) for k in range(1, 31)]  # under-frequency: upward set-point
    # the rig goes silent after its write at 3.1 s; at most 5 own-clock steps
    _run(app, script, 10 ** 6, silent_max_ms=9000, steps_max=5, clock=clock)
    p0 = set_points[29]
    assert p0 > 0 and not flags[29] & F_FAILSAFE and wdt.times[29] == 3104
    # own-clock steps from 2 x cycle_ms (8 s) after the last rig step on, then every 4 s, and
    # each completed one feeds the watchdog
    assert wdt.times[30:] == [11104, 15104, 19104, 23104, 27104]
    assert bank.silent_steps == 5 and bank.steps == 35 and wdt.feeds == 35
    for f in flags[30:]:
        assert f & F_FAILSAFE and f & F_STALE
    assert bank.status & regmap.ST_STALE
    assert bank.sim_time_ms == 120000  # the rig's clock is not advanced by own-clock steps
    # hold for hold_cycles (3), then ramp towards 0
    assert set_points[30:33] == [p0, p0, p0]
    assert 0 <= set_points[34] < set_points[33] < p0
    # the rig returns: its next time write runs one step and clears the stale bit
    port = _run(app, [(clock.t + 50, _lockstep({"f_mhz": 50000, "mode": MODE_LOCAL,
                                                 "soc_x100": 5000, "age_ms": 100,
                                                 "tod_ms": 120000, "sim_time_ms": 124000}))],
                clock.t + 200, silent_max_ms=9000, clock=clock)
    assert len(port.sent) == 1 and bank.steps == 36 and bank.silent_steps == 5
    assert not bank.status & regmap.ST_STALE and bank.sim_time_ms == 124000


def test_silent_rule_starts_before_the_watchdog_timeout():
    rp2 = pick_board("rp2_pico")
    limit = silent_limit_ms(rp2)
    assert limit == rp2.WDT_TIMEOUT_MS - 1000 == 7000
    clock = Clock()
    app = compose(rp2)
    wdt = _WDT(clock)
    app.feeder = Feeder(wdt)
    _run(app, [_rig(1)], 10 ** 6, silent_max_ms=limit, steps_max=3, clock=clock)
    # 2 x 4 s would be 8 s = the RP2040 watchdog timeout: the first own step comes at 7 s
    assert wdt.times == [204, 7204, 11204, 15204]
    for a, b in zip(wdt.times, wdt.times[1:]):
        assert b - a < rp2.WDT_TIMEOUT_MS
    assert app.ctl.out.flags & F_FAILSAFE


def test_board_without_hardware_watchdog_keeps_pure_lockstep():
    qemu = pick_board("qemu_mps2")
    assert silent_limit_ms(qemu) == 0  # serve() then never steps on its own clock
    assert silent_limit_ms(pick_board("pyboard_v11")) > 0
    opts = _board_opts(qemu)
    assert opts["silence_ms"] == qemu.SILENCE_MS == 100  # the board's, not 3.5 chars of baud
    assert _board_opts(pick_board("rp2_pico"))["silence_ms"] == 2  # 115200 baud


def test_silent_rule_off_in_real_time_and_unix_lockstep():
    clock = Clock()
    app = compose(_Board)
    _run(app, [_rig(1)], 60000, silent_max_ms=0, clock=clock)
    assert app.bank.steps == 1 and app.bank.silent_steps == 0


class _Ticks:
    def __init__(self):
        self.us = 0

    def __call__(self):
        return self.us


def test_zero_crossing_frequency_reaches_the_controller():
    ticks = _Ticks()
    zc = ZeroCross(ticks, 64)
    fm = FreqMeter(n_avg=50, tick_period=TICK_PERIOD)
    app = compose(_Board, zc=zc, fm=fm)
    assert app.bank.before_step == app.before_step
    clock = Clock()
    # 49.900 Hz on the pin (20 040 us periods) while the rig writes 50.000 Hz
    for _ in range(3):
        for _ in range(40):
            ticks.us += 20040
            zc.irq()
        _run(app, [], clock.t + 50, clock=clock, zc=zc)  # serve() drains the ring on each pass
    assert zc.n_overrun == 0
    _run(app, [(clock.t + 10, _lockstep({"f_mhz": 50000, "mode": MODE_LOCAL,
                                         "soc_x100": 5000, "age_ms": 100,
                                         "sim_time_ms": 4000}))], clock.t + 100, clock=clock,
         zc=zc)
    m = app.ctl.meas
    assert app.bank.steps == 1
    assert 49890 <= m.f_mhz <= 49910
    assert not app.ctl.out.flags & F_FREQ_INVALID
    assert app.ctl.out.ace_kw < 0  # under-frequency: deficit, upward aFRR
    # the signal stops: the meter flags it (0 mHz) and the controller fails safe
    ticks.us += 1000000
    _run(app, [(clock.t + 10, _lockstep({"f_mhz": 50000, "mode": MODE_LOCAL,
                                         "soc_x100": 5000, "age_ms": 100,
                                         "sim_time_ms": 8000}))], clock.t + 100, clock=clock,
         zc=zc)
    assert m.f_mhz == 0 and app.ctl.out.flags & F_FREQ_INVALID
    assert app.ctl.out.flags & F_FAILSAFE


def _status_over_modbus(app):
    port = _run(app, [(10, _read_status())], 100)
    r = port.sent[0]
    return (r[3] << 8) | r[4]


def test_state_fault_sets_the_status_bit():
    for st in (ST_CORRUPT | ST_DEFAULTS, ST_CORRUPT | ST_FALLBACK):
        app = compose(_Board, store=_Store(None, st))
        assert app.bank.status & regmap.ST_STATE_FAULT
        assert _status_over_modbus(app) & regmap.ST_STATE_FAULT
    for st in (ST_OK, ST_EMPTY):
        app = compose(_Board, store=_Store(None, st))
        assert not app.bank.status & regmap.ST_STATE_FAULT
        assert not _status_over_modbus(app) & regmap.ST_STATE_FAULT


def test_refused_state_words_set_the_status_bit():
    cfg = Config(**_DEFAULTS)
    good = Controller(cfg)
    good.set_mode(MODE_LOCAL)
    words = good.state_words()
    app = compose(_Board, store=_Store((5, words, cfg), ST_OK))
    assert app.state_status == ST_OK and app.ctl.mode == MODE_LOCAL
    assert not app.bank.status & regmap.ST_STATE_FAULT
    bad = list(words)
    bad[0] = 99  # unknown state version: Controller.restore() refuses it
    app = compose(_Board, store=_Store((5, bad, cfg), ST_OK))
    assert app.state_status == ST_REJECTED
    assert app.bank.status & regmap.ST_STATE_FAULT


def test_state_saved_after_steps_when_a_store_is_given():
    store = _Store(None, ST_EMPTY)
    app = compose(_Board, store=store, save_every=2)
    _run(app, [_rig(k) for k in range(1, 6)], 1000)
    assert app.bank.steps == 5 and store.saved == 3  # first step (new ISP), then every 2 steps


class _Impl:
    def __init__(self, build):
        if build is not None:
            self._build = build


def test_board_selection_override_then_build_then_platform():
    assert pick_board("pyboard_v11", _Impl("RPI_PICO"), "rp2").NAME == "pyboard_v11"
    assert pick_board(None, _Impl("ESP32_GENERIC"), "linux").NAME == "esp32_devkit"
    assert pick_board(None, _Impl("SOMETHING_ELSE"), "rp2").NAME == "rp2_pico"
    assert pick_board(None, _Impl(None), "pyboard").NAME == "pyboard_v11"
    assert pick_board(None, _Impl("standard"), "linux").NAME == "unix"
    assert pick_board(None, _Impl("MPS2_AN385"), "qemu").NAME == "qemu_mps2"
    assert pick_board(None, _Impl(None), "qemu").NAME == "qemu_mps2"
    for args in (("nosuch", _Impl(None), "linux"), (None, _Impl(None), "zephyr")):
        try:
            pick_board(*args)
        except ValueError:
            pass
        else:
            raise AssertionError("no ValueError for %r" % (args,))


def test_host_and_frequency_source_by_board():
    assert on_host("linux") and on_host("darwin") and not on_host("rp2")
    assert freq_from_zc(pick_board("rp2_pico"))
    assert not freq_from_zc(pick_board("unix"))

    class _ModbusFreq(_Board):
        ZC_PIN = 15
        FREQ_SOURCE = "modbus"

    assert not freq_from_zc(_ModbusFreq)


def test_board_option_parsed():
    o = parse_args(["--device", "/dev/x", "--board", "rp2_pico"])
    assert o["board"] == "rp2_pico" and o["device"] == "/dev/x"
    assert parse_args(["--device", "/dev/x"])["board"] is None
    try:
        parse_args(["--device", "/dev/x", "--board"])
    except UsageError as e:
        assert "--board" in str(e)
    else:
        raise AssertionError("no UsageError")


def test_the_loop_constants_are_the_firmware_s():
    # afrr/runloop.py keeps other modules' bits as const() (the loop holds neither regmap nor
    # hal.store, and looks up no module attribute); on MicroPython a private const leaves no
    # attribute
    import sys
    if sys.implementation.name == "micropython":
        return
    from hal import store

    from afrr import controller, regmap, runloop
    assert runloop._F_FAILSAFE == controller.F_FAILSAFE
    assert runloop._ST_STATE_FAULT == regmap.ST_STATE_FAULT
    assert (runloop._ST_FAULT, runloop._ST_REJECTED) == (store.ST_FAULT, store.ST_REJECTED)
