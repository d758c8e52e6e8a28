# hal.wdt: the watchdog is fed only after a healthy control step; a stalled loop lets it expire.
from hal.wdt import Feeder, SoftWDT, open_wdt

import boards.unix


class FakeClock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def diff(a, b):
    return a - b


class HardWDT:
    """Fake machine.WDT: counts feeds; the test asks whether it would have reset."""

    def __init__(self, clock, timeout_ms):
        self.clock = clock
        self.timeout_ms = timeout_ms
        self.last = clock()
        self.resets = 0

    def feed(self):
        self.last = self.clock()

    def poll(self):
        if self.clock() - self.last > self.timeout_ms:
            self.resets += 1
            self.last = self.clock()


def test_feeds_only_after_healthy_steps():
    clk = FakeClock()
    wdt = SoftWDT(8000, clk, diff)
    f = Feeder(wdt, max_step_us=50000)
    assert f.step_done(True, 1200) and wdt.feeds == 1
    assert not f.step_done(False, 1200)  # the step raised
    assert not f.step_done(True, 80000)  # the step took too long
    assert wdt.feeds == 1 and f.refused == 2 and f.fed == 1


def test_stalled_loop_lets_the_watchdog_reset():
    clk = FakeClock()
    hw = HardWDT(clk, 8000)
    f = Feeder(hw)

    def loop(cycles, stall_from=None):
        for k in range(cycles):
            clk.ms += 4000  # one 4 s control cycle
            ok = stall_from is None or k < stall_from
            if ok:
                f.step_done(True, 900)
            hw.poll()

    loop(100)
    assert hw.resets == 0
    loop(10, stall_from=5)  # the step stops completing after 5 cycles
    assert hw.resets == 1


def test_soft_wdt_expiry_and_unix_open():
    clk = FakeClock()
    wdt = SoftWDT(10000, clk, diff)
    clk.ms = 9999
    assert not wdt.expired()
    clk.ms = 10001
    assert wdt.expired()
    wdt.feed()
    assert not wdt.expired()
    feeder = open_wdt(boards.unix)  # the Unix port: no machine import, a SoftWDT
    assert isinstance(feeder.wdt, SoftWDT) and feeder.wdt.timeout_ms == 10000
    assert feeder.step_done(True)
    import boards.qemu_mps2 as qemu  # no hardware watchdog on the emulated board: no machine
    feeder = open_wdt(qemu)
    assert isinstance(feeder.wdt, SoftWDT) and feeder.wdt.timeout_ms == qemu.WDT_TIMEOUT_MS
