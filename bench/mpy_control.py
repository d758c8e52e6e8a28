# Unix-port benchmark body: the integer control step against a plain float step, CPU time, one run.
# Prints one JSON line. Run: micropython bench/mpy_control.py [steps]
#
# The plain float step (PlainFloatStep) is what one would write with floats in physical units:
# ACE from ties, schedule and frequency, low-pass, deadband, band and SoC limits, PI with a
# clamped integrator, ramp limit, and the energy of each 15-min ISP with per-minute averages,
# constants worked out once in __init__; no input checks, no fault path, no gc calls. The
# integer step (afrr.controller) does all of that plus the input checks and flags.
# Both loops run with the garbage collector on, as the firmware does (the float step allocates a
# boxed float per operation on this port, and pays for their collection). CPU time is the
# process's own: /proc/self/schedstat (ns of CPU this thread ran), the Unix port's equivalent of
# time.process_time(). Heap bytes per step come from separate untimed passes with gc off.
import gc
import json
import sys

sys.path.insert(0, "firmware")
from afrr.config import Config  # noqa: E402
from afrr.controller import MODE_LOCAL, Controller  # noqa: E402


def cpu_ns():
    with open("/proc/self/schedstat") as f:
        return int(f.read().split()[0])


class PlainFloatStep:
    """The control step with floats, kW / Hz / s / fractions, written straightforwardly."""

    def __init__(self, c):
        self.n_ties = c.n_ties
        self.k = c.k_mw_hz * 1000.0  # kW/Hz
        self.tau = c.lpf_tau_ms / 1000.0
        self.db = float(c.deadband_kw)
        self.kp = c.kp_q15 / 32768.0
        self.ti = float(c.ti_s)
        self.band_up = float(min(c.band_up_kw, c.rating_kw))
        self.band_down = float(min(c.band_down_kw, c.rating_kw))
        horizon = c.cycle_ms / 1000.0 + c.fat_s
        self.up_per_soc = c.cap_kwh * 3600.0 * (c.eta_dis_pm / 1000.0) / horizon
        self.down_per_soc = c.cap_kwh * 3600.0 / (c.eta_ch_pm / 1000.0) / horizon
        self.soc_min = c.soc_min_x100 / 10000.0
        self.soc_max = c.soc_max_x100 / 10000.0
        self.ramp = min(max(c.band_up_kw, c.band_down_kw) / c.fat_s, float(c.unit_ramp_kw_s))
        self.i = 0.0  # kW, integrator
        self.p = 0.0  # kW, set-point
        self.lpf = 0.0
        self.isp = -1
        self.last_t = -1.0
        self.up_kws = 0.0
        self.down_kws = 0.0
        self.ace_mws = 0.0
        self.n_rows = 0
        self.row_up = [0.0] * 15
        self.row_down = [0.0] * 15
        self.row_ace = [0.0] * 15

    def step(self, f_hz, ties, sched, soc, t_s, dt):
        dp = -sched
        for j in range(self.n_ties):
            dp += ties[j]
        ace = dp + self.k * (f_hz - 50.0)
        self.lpf += (ace - self.lpf) * dt / (self.tau + dt)
        e = self.lpf
        if e > self.db:
            e -= self.db
        elif e < -self.db:
            e += self.db
        else:
            e = 0.0
        up = min(self.band_up, max(0.0, (soc - self.soc_min) * self.up_per_soc))
        down = min(self.band_down, max(0.0, (self.soc_max - soc) * self.down_per_soc))
        target = min(up, max(-down, self.i - self.kp * e))
        r = self.ramp * dt
        p_prev = self.p
        p = min(p_prev + r, max(p_prev - r, target))
        self.p = min(up, max(-down, p))
        self.i = min(up, max(-down, self.i - e * dt / self.ti))
        # energy of the interval just ended at the set-point held over it, split at the ISP edge
        isp = int(t_s // 900.0)
        pos = t_s - isp * 900.0
        if self.last_t >= 0.0:
            span = t_s - self.last_t
            if isp != self.isp:
                self.add(p_prev, ace, span - pos)
                self.rows(15, 900.0)
                self.isp = isp
                self.n_rows = 0
                self.up_kws = self.down_kws = self.ace_mws = 0.0
                span = pos
            self.add(p_prev, ace, span)
            self.rows(int(pos // 60.0), pos)
        else:
            self.isp = isp
        self.last_t = t_s
        return self.p

    def add(self, p, ace, span):
        if p > 0.0:
            self.up_kws += p * span
        else:
            self.down_kws -= p * span
        self.ace_mws += ace * span / 1000.0

    def rows(self, minute, elapsed):
        while self.n_rows < minute:
            j = self.n_rows
            self.row_up[j] = self.up_kws / elapsed
            self.row_down[j] = self.down_kws / elapsed
            self.row_ace[j] = self.ace_mws / elapsed
            self.n_rows = j + 1


FREQS = [49900 + (k * 37) % 200 for k in range(256)]
CFG = dict(band_up_kw=5000, band_down_kw=5000, rating_kw=5000, n_ties=3, cap_kwh=4000)


def make_int():
    ctl = Controller(Config(**CFG))
    ctl.set_mode(MODE_LOCAL)
    m = ctl.meas
    m.ties_kw[1] = -100
    m.ties_kw[2] = 50
    m.sched_kw = 100
    return ctl


def make_float():
    return PlainFloatStep(Config(**CFG))


def run_int(ctl, n):
    m = ctl.meas
    freqs = FREQS
    for k in range(n):
        m.f_mhz = freqs[k & 255]
        m.ties_kw[0] = k & 1023
        m.tod_ms = (k * 4000) % 86400000
        ctl.step(m, 4000)
    return ctl.out.p_set_kw


FHZ = [f / 1000.0 for f in FREQS]


def run_float(ref, n):
    fhz = FHZ
    ties = [0.0, -100.0, 50.0]
    p = 0.0
    for k in range(n):
        ties[0] = float(k & 1023)
        p = ref.step(fhz[k & 255], ties, 100.0, 0.5, (k * 4000) % 86400000 / 1000.0, 4.0)
    return p


def heap_per_step(make, fn, n):
    obj = make()
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    fn(obj, n)
    a1 = gc.mem_alloc()
    gc.enable()
    return (a1 - a0) / n


def cpu_us_per_step(make, fn, n):
    obj = make()
    gc.collect()
    t0 = cpu_ns()
    fn(obj, n)
    return (cpu_ns() - t0) / 1000.0 / n


def main(n):
    # the same set-point path both ways (a check that the two do the same work, not a test)
    p_int, p_float = run_int(make_int(), 2000), run_float(make_float(), 2000)
    assert abs(p_int - p_float) <= 0.01 * 5000, (p_int, p_float)
    # alternate the two, best of three each: a burst of load on the machine hits one pass only
    t_int, t_float = [], []
    for _ in range(3):
        t_int.append(cpu_us_per_step(make_int, run_int, n))
        t_float.append(cpu_us_per_step(make_float, run_float, n))
    print(json.dumps({
        "bench": "control_step", "runtime": "micropython-unix", "steps": n,
        "clock": "/proc/self/schedstat",
        "us_per_step": round(min(t_int), 3),
        "plain_float_us_per_step": round(min(t_float), 3),
        "heap_bytes_per_step": round(heap_per_step(make_int, run_int, 1000), 3),
        "plain_float_heap_bytes_per_step": round(heap_per_step(make_float, run_float, 200), 3),
        "p_set_kw_int_float": [p_int, round(p_float, 1)],
    }))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
