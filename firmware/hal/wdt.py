# Watchdog: fed only after a control step that completed in time, so a stalled loop resets.
#
# main.py builds it with open_wdt(board) and calls feeder.step_done(ok, step_us) once per loop
# pass, where ok means the control step returned (the controller never raises on bad input: a
# faulty measurement is a healthy step on its fail-safe path) and step_us is how long it took.
# Nothing else may feed: not the Modbus handler, not an idle wait. In lock-step HIL the loop must
# still run a step every cycle_ms when the rig is silent (stale inputs -> fail-safe), or the
# board resets after WDT_TIMEOUT_MS.
#
# machine is imported only inside open_wdt on a board; tests pass a duck-typed wdt with feed().


class SoftWDT:
    """Unix-port stand-in: records feeds on an injected millisecond clock; never resets."""

    def __init__(self, timeout_ms, ticks_ms, ticks_diff):
        self.timeout_ms = timeout_ms
        self._ticks_ms = ticks_ms
        self._diff = ticks_diff
        self.last_feed = ticks_ms()
        self.feeds = 0

    def feed(self):
        self.last_feed = self._ticks_ms()
        self.feeds += 1

    def expired(self):
        """True when a hardware watchdog with this timeout would have reset the board by now."""
        return self._diff(self._ticks_ms(), self.last_feed) > self.timeout_ms


class Feeder:
    """Feeds `wdt` after a healthy step: the step returned, within max_step_us (0 = no limit)."""

    def __init__(self, wdt, max_step_us=0):
        self.wdt = wdt
        self.max_step_us = max_step_us
        self.fed = 0  # healthy steps (wraps at 2**30)
        self.refused = 0  # steps that did not feed: failed or too slow

    def step_done(self, ok, step_us=0):
        if not ok or (self.max_step_us and step_us > self.max_step_us):
            self.refused = (self.refused + 1) & 0x3FFFFFFF
            return False
        self.wdt.feed()
        self.fed = (self.fed + 1) & 0x3FFFFFFF
        return True


def open_wdt(board, max_step_us=0):
    """A Feeder around the board's watchdog: machine.WDT on a board, SoftWDT on the Unix port
    and on a board without one (HW_WDT = False: the emulated board).

    Call it once the slow start-up (imports, config load, first step) is done: a hardware
    watchdog cannot be stopped once started.
    """
    if board.NAME == "unix" or not getattr(board, "HW_WDT", True):
        import time

        if hasattr(time, "ticks_ms"):
            wdt = SoftWDT(board.WDT_TIMEOUT_MS, time.ticks_ms, time.ticks_diff)
        else:  # CPython (host tests)
            wdt = SoftWDT(board.WDT_TIMEOUT_MS, lambda: int(time.monotonic() * 1000),
                          lambda a, b: a - b)
    else:
        import machine

        wdt = machine.WDT(timeout=board.WDT_TIMEOUT_MS)
    return Feeder(wdt, max_step_us)
