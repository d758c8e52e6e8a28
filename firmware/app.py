# The unit firmware's composition: picks the board, builds drivers and controller, runs the loop.
#
# firmware/main.py is a three-line shim that calls main() here: a board runs main.py from source,
# so everything else lives in this module, which tools/build_firmware.py compiles to app.mpy
# (no compile-time heap at boot, and comments cost nothing).
#
# Unix port:  micropython firmware/main.py --device /dev/pts/N [--unit 1] [--realtime]
#                 [--silence-ms N] [--baud N] [--state-file PATH] [--board NAME] [--key-file PATH]
#                 [--strict-framing]
# Framing: on a board a request ends only at the 3.5-character silence (Modbus RTU as
# specified: bytes after a request before the silence make it invalid). The Unix port behind the
# rig's pty takes a request as soon as its length and CRC say it is whole (a deviation from the
# spec: a pty has no line timing, and a loaded host stretches the gaps); --strict-framing gives
# it the board's behaviour. A board may opt out with STRICT_FRAMING = False (the emulated
# qemu_mps2, whose REPL UART has no line timing either).
# On a board (no command line) the board data module (boards/*.py) gives the UART, baud, RS-485
# pin and the optional MODBUS_UNIT, LOCKSTEP, FREQ_SOURCE, SAVE_EVERY_STEPS, KEY_PATH
# (boards/README.md).
#
# Lock-step (the Unix port's default; on a board only with LOCKSTEP = True, a rig build): every
# write of the sim_time_ms register with a new value runs exactly one control step with
# dt = new - old, so a run is deterministic and as fast as the link allows.
# Real time (a board in service, or --realtime): the firmware steps every cfg.cycle_ms on its own
# clock with the latest measurements, and a sim_time_ms write is refused; their age grows from
# the last write and the stale status bit is set beyond cfg.max_age_ms (the fail-safe takes over).
# Write protection (afrr/auth.py, regmap.py): a board always runs locked, with the key deployed
# at KEY_PATH (no key: nothing can unlock it); the Unix port runs locked with --key-file and on
# the open bench profile without one; an emulated rig board (OPEN_BENCH) likewise runs open until
# a key file is on it. A sequence floor that cannot be trusted (hal/keystore.py) refuses every
# command and sets ST_STATE_FAULT.
#
# What a board adds:
# - watchdog: fed by bank.after_step, i.e. only after a control step that completed; nothing else
#   feeds it (not the Modbus handler, not the idle wait), so a stalled loop resets the board.
# - silent rig (lock-step on a board): once no step has run for silent_ms =
#   min(2 * cycle_ms, WDT_TIMEOUT_MS - 1000) the loop steps on its own clock every cycle_ms with
#   the last inputs, which count as stale: the controller holds the set-point for hold_cycles,
#   then ramps to 0 (defaults: fail-safe at 8 s, 7 s on rp2_pico; ramp from 12 s later). Such a
#   completed fail-safe step feeds the watchdog: the loop is alive and driving the unit to its
#   safe state; resetting the board instead would restart it, restore the set-point in force and
#   stall again, so the ramp to 0 would never finish. The Unix port keeps pure lock-step (the rig
#   may pause; its runs must stay deterministic): its watchdog is a SoftWDT that never resets.
# - frequency: with a ZC_PIN (and FREQ_SOURCE "zc", the default then), the zero-crossing meter
#   overrides the f_mhz register just before every step; an untrusted signal reads 0 mHz, which
#   the controller flags and takes its fail-safe on.
# - persisted state: always on a board (board.STATE_PATH); on the Unix port with --state-file.
#   A corrupt, fallen-back or refused record sets status bit ST_STATE_FAULT (0x0008).
import sys
import time

from afrr import regmap
from afrr.config import Config, ConfigError
from afrr.controller import F_FAILSAFE, Controller
from afrr.modbus import RTU
from afrr.unitregs import UnitRegisters

_IDLE_MS = 100  # poll timeout while nothing is buffered and no step is due
_HOST_SAVE_EVERY_STEPS = 15  # Unix port --state-file: also save every 15 steps (1 min at 4 s)
_WDT_MARGIN_MS = 1000  # silent-rig steps start at least this long before the watchdog expires
_ZC_AVG_CYCLES = 50  # zero-crossing meter: average over 50 mains cycles (1 s)


def serve(port, rtu, bank, ticks_ms, ticks_diff, silence_ms, realtime=False, steps_max=0,
          zc=None, fm=None, silent_max_ms=0, strict=True):
    """The loop: bytes in, replies out, frame boundary at silence_ms, own-clock steps.

    strict (RTU as specified, the default and what a board runs): a frame ends only at the
    silence, so bytes after a request before the silence make it invalid. strict=False (the
    Unix port behind the rig's pty, a documented deviation): a request is handled as soon as
    its length and CRC say it is whole (rtu.complete()), because a pty carries no line timing
    and a loaded host can stretch or shrink the gaps between bytes.

    `ticks_ms`/`ticks_diff` are injected (time.ticks_ms on a target). Own-clock steps run every
    cycle_ms in real time, and in lock-step only while the rig is silent: after no step for
    min(2 * cycle_ms, silent_max_ms), then every cycle_ms (silent_max_ms 0: never). `zc`/`fm`:
    the zero-crossing ring buffer, drained into the meter on every pass. Returns when the link
    closes (port raises) or after steps_max own-clock steps (tests).
    """
    cfg = bank.cfg
    last_rx = ticks_ms()
    last_step = last_rx
    own_steps = 0
    seen = bank.steps
    silent = False  # lock-step: the rig has gone silent and the firmware steps on its own
    while True:
        now = ticks_ms()
        if zc is not None:
            zc.drain(fm)
        # a silence to wait for: strict, any bytes; fast path, bytes that came since it last
        # held a frame that may still be arriving
        if rtu.pending() and (strict or rtu.held != rtu.rx_n):
            timeout = silence_ms - ticks_diff(now, last_rx)
            if timeout < 0:
                timeout = 0
        else:
            timeout = _IDLE_MS
        period = 0  # ms between own-clock steps from last_step; 0 = none due
        if realtime:
            period = cfg.cycle_ms
        elif silent_max_ms:
            if bank.steps != seen:  # the rig ran a step
                seen = bank.steps
                last_step = now
                silent = False
            if silent:
                period = cfg.cycle_ms
            else:
                period = 2 * cfg.cycle_ms
                if period > silent_max_ms:
                    period = silent_max_ms
        if period:
            due = period - ticks_diff(now, last_step)
            if due < timeout:
                timeout = due if due > 0 else 0
        if port.wait(timeout):
            if rtu.receive(port):
                last_rx = ticks_ms()
                r = 0 if strict else rtu.complete()
                while not strict:
                    if r:
                        port.write(rtu.tx, r)
                    if not (rtu.handled and rtu.pending()):
                        break
                    r = rtu.complete()
        now = ticks_ms()
        if rtu.pending() and (strict or rtu.held != rtu.rx_n) \
                and ticks_diff(now, last_rx) >= silence_ms:
            r = rtu.at_silence() if strict else rtu.quiet()
            if r:
                port.write(rtu.tx, r)
        if period and bank.steps == seen:  # (in lock-step, a rig step just now restarts the wait)
            dt = ticks_diff(now, last_step)
            if dt >= period:
                last_step = now
                silent = not realtime
                bank.tick(dt, cfg.max_age_ms)
                seen = bank.steps
                own_steps += 1
                if steps_max and own_steps >= steps_max:
                    return


class App:
    """The firmware's run-time objects and the hooks the register bank calls around a step.

    Built by compose(); every driver comes in as an argument (tests pass duck-typed fakes):
    store (hal.store.StateStore or None), zc/fm (zero-crossing buffer and afrr.freqmeas meter, or
    None), led (a Pin-like with value(), or None). The watchdog feeder is set later, once start-up
    is done: `app.feeder = open_wdt(board)`.
    """

    def __init__(self, board, ctl, cfg, bank, rtu, saver, state_status, zc, fm, led):
        self.board = board
        self.ctl = ctl
        self.cfg = cfg
        self.bank = bank
        self.rtu = rtu
        self.saver = saver  # hal.store.StateSaver or None
        self.state_status = state_status  # hal.store ST_* bits from the boot load
        self.zc = zc
        self.fm = fm
        self.led = led
        self.feeder = None  # hal.wdt.Feeder, set once start-up is done
        bank.after_step = self.after_step  # one bound method, made once
        if zc is not None:
            bank.before_step = self.before_step

    def before_step(self):
        """The measured grid frequency replaces the f_mhz register for this step."""
        zc = self.zc
        zc.drain(self.fm)
        self.ctl.meas.f_mhz = self.fm.read(zc.now())

    def after_step(self):
        """Run after every completed step: feed the watchdog first, then save state if due."""
        if self.feeder is not None:
            self.feeder.step_done(True)
        if self.saver is not None:
            self.saver.after_step(self.ctl, self.cfg)
        if self.led is not None:
            self.led.value(1 if self.ctl.out.flags & F_FAILSAFE else 0)


def compose(board, unit=1, realtime=False, store=None, save_every=0, zc=None, fm=None,
            led=None, auth=None):
    """Load the persisted state (if a store is given), build controller, bank and Modbus RTU.

    `auth`: an afrr.auth.Auth (the write lock and the key), or None for the open bench profile.
    """
    st = 0  # hal.store ST_* bits; hal.store is imported only with a store (saves heap)
    words = None
    if store is not None:
        from hal.store import boot_state

        cfg_values, words, st = boot_state(store, board)
    else:
        cfg_values = dict(board.UNIT_DEFAULTS)
    cfg = Config(**cfg_values)
    ctl = Controller(cfg)
    bank = UnitRegisters(ctl, cfg, unit_id=unit, lockstep=not realtime, auth=auth)
    if store is not None:
        from hal.store import ST_FAULT, ST_REJECTED

        if words and not ctl.restore(words):
            st |= ST_REJECTED
        if st & (ST_FAULT | ST_REJECTED):
            bank.status |= regmap.ST_STATE_FAULT
    if auth is not None and auth.floor == 0xFFFFFFFF:  # hal.keystore.TOP: a corrupt or used up
        bank.status |= regmap.ST_STATE_FAULT  # sequence floor, no command can pass
    rtu = RTU(bank)
    bank.rtu = rtu
    saver = None
    if store is not None:
        from hal.store import StateSaver

        saver = StateSaver(store, every=save_every)
    return App(board, ctl, cfg, bank, rtu, saver, st, zc, fm, led)


def _import_boards():
    try:
        import boards
    except ImportError:  # running from the repository: boards/ sits next to firmware/
        try:
            f = __file__
        except NameError:
            f = ""
        here = f.rsplit("/", 1)[0] if "/" in f else "."
        sys.path.append(here + "/..")
        import boards
    return boards


def pick_board(override=None, impl=None, platform=None):
    """The board data module: --board override, else sys.implementation._build, else
    sys.platform (boards.load). ValueError/ImportError when none fits."""
    return _import_boards().load(override, impl, platform)


def on_host(platform=None):
    """True on the Unix port (pty link, soft watchdog, no pins), whatever board data is used."""
    p = sys.platform if platform is None else platform
    return p == "linux" or p == "darwin"


def freq_from_zc(board):
    """True when the board measures frequency itself (ZC_PIN, FREQ_SOURCE "zc" by default)."""
    if board.ZC_PIN is None:
        return False
    return getattr(board, "FREQ_SOURCE", "zc") == "zc"


def silent_limit_ms(board):
    """serve()'s silent_max_ms on a board: the watchdog timeout less a 1 s margin; 0 (pure
    lock-step, as on the Unix port) on a board without a hardware watchdog (HW_WDT False)."""
    if not getattr(board, "HW_WDT", True):
        return 0
    return board.WDT_TIMEOUT_MS - _WDT_MARGIN_MS


def _board_opts(board):
    """A board has no command line: its data module says how to run."""
    from hal.board_uart import silence_ms

    return {"device": None, "unit": getattr(board, "MODBUS_UNIT", 1),
            "realtime": not getattr(board, "LOCKSTEP", False),
            "silence_ms": getattr(board, "SILENCE_MS", 0) or silence_ms(board.UART_BAUD),
            "baud": board.UART_BAUD,
            "state_file": None, "board": None, "strict": getattr(board, "STRICT_FRAMING", True)}


def _forget(name):
    """Drop a start-only module (hal.unix_args) so the collector takes its code back: the
    heap the loop runs in is what a unit has left after start."""
    sys.modules.pop(name, None)
    pkg, _, leaf = name.rpartition(".")
    try:
        delattr(sys.modules[pkg], leaf)
    except (KeyError, AttributeError):
        pass


def _host_opts(argv):
    """The Unix port's options (hal/unix_args.py), or (None, exit code) after one line."""
    from hal import unix_args

    try:
        return unix_args.parse_args(argv), 0
    except unix_args.UsageError as e:
        msg = str(e)
        print(("error: " + msg + "\n" if msg else "") + unix_args.USAGE)
        return None, 2 if msg else 0
    finally:
        _forget("hal.unix_args")


def main(argv):
    host = on_host()
    opts = None
    if host:
        opts, rc = _host_opts(argv)
        if opts is None:
            return rc
    try:
        board = pick_board(opts["board"] if opts else None)
    except (ImportError, ValueError) as e:
        print("error: %s" % e)
        return 2
    if not host:
        opts = _board_opts(board)
    store = None
    if not host or opts["state_file"]:
        from hal.store import open_store

        store = open_store(board, opts["state_file"])
    zc = fm = led = None
    if not host:
        from hal.board_io import status_led

        led = status_led(board)
        if freq_from_zc(board):
            from hal.zerocross import TICK_PERIOD, attach

            from afrr.freqmeas import FreqMeter

            zc = attach(board)
            fm = FreqMeter(n_avg=_ZC_AVG_CYCLES, tick_period=TICK_PERIOD)
    every = getattr(board, "SAVE_EVERY_STEPS", _HOST_SAVE_EVERY_STEPS if host else 0)
    auth = None
    key = opts.get("key_file")
    # (the open bench profile on the Unix port without a key spends no heap on it; an emulated
    # rig board (OPEN_BENCH) gets None from load_auth until a key file is on it)
    if not host or key:
        from hal.keystore import load_auth

        auth = load_auth(key or board)
    try:
        app = compose(board, opts["unit"], opts["realtime"], store, every, zc, fm, led, auth)
    except ConfigError as e:
        print("error: bad configuration: %s" % e)
        return 2
    try:
        if host:
            from hal.unix_pty import PtyPort

            port = PtyPort(opts["device"], opts["baud"] or None)
        else:
            from hal.board_io import open_link

            port = open_link(board)
    except Exception as e:  # one line, never a traceback, for a bad device path
        print("error: %s" % e)
        return 2
    # start-up is done: from here on only a completed control step feeds the watchdog
    if host:
        from hal.wdt import Feeder, SoftWDT

        app.feeder = Feeder(SoftWDT(board.WDT_TIMEOUT_MS, time.ticks_ms, time.ticks_diff))
    else:
        from hal.wdt import open_wdt

        app.feeder = open_wdt(board)
    try:
        serve(port, app.rtu, app.bank, time.ticks_ms, time.ticks_diff, opts["silence_ms"],
              opts["realtime"], 0, zc, fm, 0 if host else silent_limit_ms(board), opts["strict"])
    except KeyboardInterrupt:
        pass
    except Exception as e:  # LinkClosed: the rig went away
        print("firmware: %s after %d steps" % (e, app.bank.steps))
    if app.saver is not None:
        app.saver.request()
        app.saver.after_step(app.ctl, app.cfg)
    return 0
