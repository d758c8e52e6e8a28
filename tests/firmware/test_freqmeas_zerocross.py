# hal.zerocross ring buffer (IRQ side) feeding afrr.freqmeas; runs under pytest and the Unix port.
from hal.zerocross import TICK_PERIOD, ZeroCross

from afrr.freqmeas import INVALID_MHZ, FreqMeter


class Clock:
    """Fake ticks_us: the test sets .t before each simulated interrupt."""

    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def lcg(seed):
    s = [seed]

    def below(n):
        s[0] = (s[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return (s[0] >> 8) % n
    return below


def run_edges(start, n, f_mhz, drain_every=10, size=64):
    clk = Clock(start)
    zc = ZeroCross(clk, size)
    fm = FreqMeter(n_avg=50, tick_period=TICK_PERIOD)
    below = lcg(start & 0xFFFF)
    out = []
    for k in range(n):
        clk.t = start + k * 1000000000 // f_mhz + below(41) - 20  # +-20 us ISR latency
        zc.irq(None)
        if k % drain_every == drain_every - 1:
            zc.drain(fm)
            out.append(fm.read(zc.now()))
    return zc, fm, out


def test_irq_to_frequency_within_10mhz():
    zc, fm, out = run_edges(1000, 600, 50021)
    good = [f for f in out if f != INVALID_MHZ]
    assert len(good) >= len(out) - 6  # the first 50 cycles warm up
    assert all(abs(f - 50021) <= 10 for f in good)
    assert zc.n_overrun == 0


def test_64bit_ticks_are_masked_to_30_bits():
    # Unix-port ticks_us runs past 2**30; the masked stream wraps and measures the same
    _, _, a = run_edges((1 << 30) - 3000000, 600, 49980)
    _, _, b = run_edges((5 << 30) - 3000000, 600, 49980)
    assert a == b and abs(a[-1] - 49980) <= 10


def test_overrun_restarts_the_meter():
    clk = Clock(0)
    zc = ZeroCross(clk, 16)
    fm = FreqMeter(n_avg=20, tick_period=TICK_PERIOD)
    t = 0
    for _ in range(60):
        t += 20000
        clk.t = t
        zc.irq()
        zc.drain(fm)
    assert fm.read(zc.now()) == 50000
    for _ in range(17):  # more than the ring holds before the next drain
        t += 20000
        clk.t = t
        zc.irq()
    assert zc.drain(fm) == 0 and zc.n_overrun == 1
    assert fm.read(zc.now()) == INVALID_MHZ and fm.n_restart == 1
    for _ in range(25):
        t += 20000
        clk.t = t
        zc.irq()
        zc.drain(fm)
    assert fm.read(zc.now()) == 50000


def test_irq_allocates_nothing_on_micropython():
    try:
        import micropython
    except ImportError:
        return  # CPython: the Unix-port run checks this
    clk = Clock(123)
    zc = ZeroCross(clk, 64)
    fm = FreqMeter(n_avg=10, tick_period=TICK_PERIOD)
    micropython.heap_lock()
    try:
        for k in range(200):
            clk.t = 123 + 20000 * k
            zc.irq(None)
            if k % 8 == 7:
                zc.drain(fm)
                fm.read(zc.now())
    finally:
        micropython.heap_unlock()
    assert fm.read(zc.now()) == 50000
