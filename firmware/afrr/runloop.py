# The unit firmware at run time: the serve loop, and the App: the run-time objects and the hooks
# the register bank calls around a step. firmware/app.py loads everything at start and hands over
# an App; this module and what the App holds are all that stays in the heap while the unit runs
# (app.py, the board data and the start-only modules are dropped from sys.modules after start,
# so the collector takes their code back). What serve() does on the Unix port and on a board:
# see app.py.
import time

from afrr.compat import const
from afrr.controller import Controller
from afrr.modbus import RTU
from afrr.unitregs import UnitRegisters

_IDLE_MS = const(100)  # poll timeout while nothing is buffered and no step is due
# other modules' bits, as constants here (tests/firmware/test_app_board.py keeps them equal)
_F_FAILSAFE = const(0x0100)  # afrr.controller.F_FAILSAFE
_ST_STATE_FAULT = const(0x0008)  # afrr.regmap.ST_STATE_FAULT
_ST_FAULT = const(0x07)  # hal.store.ST_FAULT: the load found a corrupt copy or fell back
_ST_REJECTED = const(0x10)  # hal.store.ST_REJECTED: the controller refused the record


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

    Made in two steps. app.py at start: App(cfg, ...) with what start-up loaded (the validated
    Config, the persisted controller words, the hal.store ST_* bits of that load) and the drivers
    as arguments (tests pass duck-typed fakes): store (hal.store.StateStore or None), zc/fm
    (zero-crossing buffer and afrr.freqmeas meter, or None), led (a Pin-like with value(), or
    None), auth (afrr.auth.Auth or None); then `app.link = (board data module, pty path or None
    on a board, baud, silence_ms, realtime, silent_max_ms, strict)`. Then run() opens the link
    (hal.unix_pty or hal.board_io), arms the watchdog (hal.wdt.open_wdt: `app.feeder`), lets go
    of the board data and calls build(): controller, register bank, Modbus RTU and state saver.
    It does so once app.py has left the heap (main.py), so these objects take the room its code
    leaves (app.compose() builds at once, for tests). Nothing start-only stays alive in the
    loop.
    """

    def __init__(self, cfg, words=None, state_status=0, unit=1, realtime=False, auth=None,
                 store=None, save_every=0, zc=None, fm=None, led=None):
        self.cfg = cfg
        self.state_status = state_status  # hal.store ST_* bits from the boot load
        self.zc = zc
        self.fm = fm
        self.led = led
        self.feeder = None  # hal.wdt.Feeder, set once start-up is done
        self.link = None  # app.start: see above
        self.ctl = self.bank = self.rtu = self.saver = None  # build()
        self._start = (words, unit, realtime, auth, store, save_every)  # build()'s inputs

    def build(self):
        """Controller (with the persisted words restored), register bank, Modbus RTU and state
        saver; returns self. A record the controller refuses adds ST_REJECTED to state_status;
        a fault in the load or the key's sequence floor sets the bank's ST_STATE_FAULT bit."""
        words, unit, realtime, auth, store, save_every = self._start
        self._start = None
        cfg = self.cfg
        ctl = self.ctl = Controller(cfg)
        bank = self.bank = UnitRegisters(ctl, cfg, unit_id=unit, lockstep=not realtime,
                                         auth=auth)
        if words and not ctl.restore(words):
            self.state_status |= _ST_REJECTED
        if self.state_status & (_ST_FAULT | _ST_REJECTED):
            bank.status |= _ST_STATE_FAULT
        if auth is not None and auth.floor == 0xFFFFFFFF:  # hal.keystore.TOP: a corrupt or used
            bank.status |= _ST_STATE_FAULT  # up sequence floor, no command can pass
        rtu = self.rtu = RTU(bank)
        bank.rtu = rtu
        if store is not None:
            from hal.store import StateSaver

            self.saver = StateSaver(store, save_every, ctl)  # its buffers now, while there is room
        bank.after_step = self.after_step  # one bound method, made once
        if self.zc is not None:
            bank.before_step = self.before_step
        return self

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
            self.led.value(1 if self.ctl.out.flags & _F_FAILSAFE else 0)

    def run(self):
        """Open the link, arm the watchdog, build (once app.py has left the heap: see above),
        serve until the link closes, then save the state once more. Returns 0, or 2 after one
        line when the link cannot be opened."""
        board, device, baud, silence_ms, realtime, silent_max_ms, strict = self.link
        self.link = None  # the board data module goes once the link and the watchdog are open
        try:
            if device is not None:  # the Unix port: the pty the rig gave
                from hal.unix_pty import PtyPort

                port = PtyPort(device, baud)
            else:
                from hal.board_io import open_link

                port = open_link(board)
        except Exception as e:  # one line, never a traceback, for a bad device path
            print("error: %s" % e)
            return 2
        # from here on only a completed control step feeds the watchdog (building the unit
        # takes milliseconds; one that hangs in it is reset); the Unix port's never resets,
        # whatever board data it runs with
        from hal import wdt

        if device is not None:
            self.feeder = wdt.Feeder(wdt.SoftWDT(board.WDT_TIMEOUT_MS, time.ticks_ms,
                                                 time.ticks_diff))
        else:
            self.feeder = wdt.open_wdt(board)
        board = None
        if self.ctl is None:
            self.build()
        # built: from here on nothing long-lived is allocated, so the collector runs only when
        # the heap is full again. With main.py's threshold on, every call of a function whose
        # frame holds more than 11 words would count towards it (MicroPython keeps such frames
        # on the heap for the call, py/objfun.c), and each transaction would pay for
        # collections it does not need.
        import gc

        if hasattr(gc, "threshold"):  # (not on CPython)
            gc.threshold(-1)
        bank = self.bank
        try:
            serve(port, self.rtu, bank, time.ticks_ms, time.ticks_diff, silence_ms, realtime, 0,
                  self.zc, self.fm, silent_max_ms, strict)
        except KeyboardInterrupt:
            pass
        except Exception as e:  # LinkClosed: the rig went away
            print("firmware: %s after %d steps" % (e, bank.steps))
        if self.saver is not None:
            self.saver.request()
            self.saver.after_step(self.ctl, self.cfg)
        return 0
