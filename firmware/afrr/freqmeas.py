# Zero-crossing timestamps -> grid frequency in mHz: integer-only, allocation-free, pure.
#
# The pin interrupt (hal/zerocross.py) only stores tick timestamps; this module turns the
# intervals between them into a frequency averaged over the last `n_avg` mains cycles:
#   f [mHz] = cycles * tick_hz * 1000 / (sum of accepted intervals in ticks)
# The sum of consecutive intervals telescopes to (last edge - first edge), so per-edge jitter
# only enters at the two ends of the window: +-20 us of jitter over 50 cycles (1 s) is +-2 mHz.
#
# Each new edge is judged against a tracked reference period `ref` (an exponential average,
# 1/8 weight, kept in 1/16 tick units):
#   - an interval shorter than ref - tol is a glitch: the edge is dropped (counted as bad);
#   - an interval near k * ref (k = 2 .. 1 + max_missed) means k - 1 missed edges: it is kept
#     as k cycles (counted as bad), so missed edges do not bias the average;
#   - anything else (longer gap, or a period outside f_min..f_max while unlocked) restarts the
#     measurement: window cleared, `ref` re-acquired from the next interval.
# The result is *trusted* only when flags == 0: the window holds n_avg cycles, the last edge is
# recent, the bad-edge count in the window is at most max_bad, and f lies in f_min..f_max.
# read() returns INVALID_MHZ (0) when untrusted, which the controller treats as a bad frequency
# (outside 47 500..52 500 mHz) and so takes its fail-safe path: flagged, never hidden.
#
# Every intermediate stays inside +-2**30 for the documented parameter ranges (checked in
# __init__), so the same file gives bit-identical results on CPython, the Unix port and boards.
from afrr.compat import const

FM_WARMUP = const(0x01)  # fewer than n_avg cycles in the window (start, or after a restart)
FM_STALE = const(0x02)  # no edge for longer than stale_ticks
FM_NOISY = const(0x04)  # glitches + missed edges inside the window above max_bad
FM_RANGE = const(0x08)  # averaged frequency outside f_min_mhz..f_max_mhz
INVALID_MHZ = const(0)  # what read() returns for an untrusted signal

_LIM = const(0x3FFFFFFF)  # counters wrap here, staying small ints on every port


def ticks_diff(a, b, period):
    """a - b for a counter wrapping at `period` (a power of two), in -period/2 .. period/2 - 1.

    The same rule as time.ticks_diff, with the period as a parameter so that tests can wrap a
    small counter and the module stays pure. Note: 2**30 itself is not a small int on a 32-bit
    port, so the hot path uses ticks_diff_mask() with the mask (period - 1) computed once.
    """
    return ticks_diff_mask(a, b, period - 1)


def ticks_diff_mask(a, b, mask):
    """ticks_diff with mask = period - 1: every operand and result stays a small int."""
    d = (a - b) & mask
    if d > (mask >> 1):
        d = d - mask - 1
    return d


class FreqMeter:
    """Frequency from zero-crossing edge timestamps. Feed add_edge(t) in order; call read(now)."""

    def __init__(self, n_avg=50, tick_period=1 << 30, tick_hz=1000000, f_min_mhz=45000,
                 f_max_mhz=55000, tol_permille=10, max_missed=2, max_bad=-1, stale_ticks=-1):
        if tick_period < 1024 or tick_period & (tick_period - 1) or tick_period > 1 << 30:
            raise ValueError("tick_period: a power of two in 2**10..2**30")
        if not 1 <= n_avg <= 300:
            raise ValueError("n_avg: 1..300 cycles")
        if not 1000 <= tick_hz <= 1000000:
            raise ValueError("tick_hz: 1000..1000000")
        if not 1000 <= f_min_mhz < f_max_mhz <= 100000:
            raise ValueError("f_min_mhz < f_max_mhz, inside 1000..100000")
        if not 1 <= tol_permille <= 200:
            raise ValueError("tol_permille: 1..200")
        if not 0 <= max_missed <= 3:
            raise ValueError("max_missed: 0..3")
        self.n_avg = n_avg
        self.mask = tick_period - 1  # ticks_diff_mask(); 2**30 itself is a long int on a board
        self.tick_hz = tick_hz
        self.f_min_mhz = f_min_mhz
        self.f_max_mhz = f_max_mhz
        self.tol_permille = tol_permille
        self.max_missed = max_missed
        self.max_bad = max_bad if max_bad >= 0 else max(1, n_avg // 10)
        self.p_min = tick_hz * 1000 // f_max_mhz  # ticks, shortest period accepted unlocked
        self.p_max = tick_hz * 1000 // f_min_mhz  # ticks, longest
        self.stale_ticks = stale_ticks if stale_ticks > 0 else 3 * self.p_max
        # the window holds at most n_avg + max_missed cycles: its tick sum times 10 (the long
        # division in measure) must stay below 2**30, and one interval below half the period
        if (n_avg + max_missed) * self.p_max * 11 >= 1 << 30:
            raise ValueError("n_avg too long for this tick rate")
        if 4 * (1 + max_missed) * self.p_max >= tick_period:
            raise ValueError("tick_period too short for the longest interval")
        # preallocated ring of accepted intervals
        self._dt = [0] * n_avg  # ticks per entry
        self._k = [0] * n_avg  # cycles per entry
        self._bad = [0] * n_avg  # glitches dropped before this entry + its missed edges
        self.n_glitch = 0  # edges dropped as glitches (wraps at 2**30)
        self.n_missed = 0  # edges inferred as missed
        self.n_restart = 0  # measurement restarts (gap, out-of-range period, overrun)
        self.flags = FM_WARMUP | FM_STALE
        self.f_mhz = INVALID_MHZ  # last computed average, trusted or not
        self._have_last = False
        self._last = 0  # tick of the last accepted edge
        self.restart()

    def restart(self):
        """Drop the window and the reference period; the next edge starts a new measurement."""
        self._head = 0  # next slot to write
        self._n = 0  # entries in the window
        self._tick_sum = 0
        self._cyc_sum = 0
        self._bad_sum = 0
        self._pending_bad = 0
        self._ref16 = 0  # reference period in 1/16 ticks; 0 = not locked

    def overrun(self):
        """The edge buffer overflowed (edges lost): restart from the next edge."""
        self.restart()
        self._have_last = False
        self.n_restart = (self.n_restart + 1) & _LIM

    def add_edge(self, t):
        """One zero-crossing timestamp (ticks, same direction each time). Allocates nothing."""
        if not self._have_last:
            self._last = t
            self._have_last = True
            return
        dt = ticks_diff_mask(t, self._last, self.mask)
        ref16 = self._ref16
        if ref16 == 0:  # unlocked: any plausible mains period locks
            if dt < self.p_min:
                if dt <= 0:
                    self._last = t  # time went backwards: start again from here
                return  # a short interval before lock: keep the first edge, drop this one
            if dt > self.p_max:
                self._last = t  # too long: start again from this edge
                return
            self._ref16 = dt << 4
            self._push(dt, 1, t)
            return
        ref = ref16 >> 4
        tol = ref * self.tol_permille // 1000
        if dt < ref - tol:  # glitch (also dt <= 0): drop the edge
            self._pending_bad += 1
            self.n_glitch = (self.n_glitch + 1) & _LIM
            return
        if dt <= ref + tol:
            self._ref16 = ref16 + (((dt << 4) - ref16) >> 3)
            self._push(dt, 1, t)
            return
        k = (dt + (ref >> 1)) // ref  # nearest whole number of cycles
        if 2 <= k <= 1 + self.max_missed and k * (ref - tol) <= dt <= k * (ref + tol):
            self._pending_bad += k - 1
            self.n_missed = (self.n_missed + k - 1) & _LIM
            self._push(dt, k, t)
            return
        # a gap or a jump no real grid makes: restart, this edge is the new start
        self.restart()
        self._last = t
        self.n_restart = (self.n_restart + 1) & _LIM

    def _push(self, dt, k, t):
        h = self._head
        n_avg = self.n_avg
        if self._n == n_avg:  # full: the oldest entry is at the head
            self._drop(h)
        self._dt[h] = dt
        self._k[h] = k
        self._bad[h] = self._pending_bad
        self._tick_sum += dt
        self._cyc_sum += k
        self._bad_sum += self._pending_bad
        self._pending_bad = 0
        self._n += 1
        h += 1
        self._head = 0 if h == n_avg else h
        self._last = t
        # keep just enough entries for n_avg cycles
        while self._n > 1:
            tail = self._head - self._n
            if tail < 0:
                tail += n_avg
            if self._cyc_sum - self._k[tail] < n_avg:
                break
            self._drop(tail)

    def _drop(self, i):
        self._tick_sum -= self._dt[i]
        self._cyc_sum -= self._k[i]
        self._bad_sum -= self._bad[i]
        self._n -= 1

    def measure(self, now):
        """Update f_mhz and flags at tick `now`; returns flags (0 = trusted)."""
        flags = 0
        cyc = self._cyc_sum
        ticks = self._tick_sum
        if cyc < self.n_avg:
            flags |= FM_WARMUP
        if not self._have_last or ticks_diff_mask(now, self._last, self.mask) > self.stale_ticks:
            flags |= FM_STALE
        if self._bad_sum + self._pending_bad > self.max_bad:
            flags |= FM_NOISY
        if ticks > 0:
            # cyc * tick_hz * 1000 / ticks by long division, three decimal digits at a time
            num = cyc * self.tick_hz
            q = num // ticks
            r = num - q * ticks
            r *= 10
            d = r // ticks
            q = q * 10 + d
            r = (r - d * ticks) * 10
            d = r // ticks
            q = q * 10 + d
            r = (r - d * ticks) * 10
            d = r // ticks
            q = q * 10 + d
            r -= d * ticks
            if r + r >= ticks:
                q += 1
            self.f_mhz = q
            if q < self.f_min_mhz or q > self.f_max_mhz:
                flags |= FM_RANGE
        else:
            self.f_mhz = INVALID_MHZ
        self.flags = flags
        return flags

    def read(self, now):
        """Frequency in mHz for the controller: the average when trusted, else INVALID_MHZ."""
        if self.measure(now):
            return INVALID_MHZ
        return self.f_mhz
