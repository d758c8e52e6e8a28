# Unix-port benchmark body: the integer control step against a plain float implementation of the
# same step (FRCE, PI with clamped integrator, band/ramp/SoC limits, energy), timed in one run.
# Prints one JSON line. Run: micropython bench/mpy_control.py [steps]
import gc
import json
import sys
import time

sys.path.insert(0, "firmware")
from afrr.config import Config  # noqa: E402
from afrr.controller import MODE_LOCAL, Controller  # noqa: E402


def _num_in(v, lo, hi):
    return type(v) is float and lo <= v <= hi


class FloatStep:
    """The same step as afrr.controller.Controller.step, written the plain way with floats in
    physical units (Hz, kW, s, fractions): same input checks, filter, deadband, limits, PI with
    clamped integrator, ramp and energy per ISP. Kept here only as the benchmark's reference."""

    def __init__(self, c):
        self.c = c
        self.i = 0.0  # kW
        self.p = 0.0  # kW
        self.lpf = 0.0
        self.lpf_ok = False
        self.up_kws = 0.0
        self.down_kws = 0.0
        self.ace_mws = 0.0
        self.isp = -1
        self.last_t = -1.0
        self.rows = [0.0] * 15
        self.n_rows = 0

    def step(self, f_hz, ties, sched, soc, age_s, t_s, dt_s):
        c = self.c
        bad = not (0.0 < dt_s <= 60.0)
        dt = min(dt_s, 4.0) if not bad else 0.0
        if not _num_in(f_hz, 47.5, 52.5):
            bad = True
            df = 0.0
        else:
            df = f_hz - 50.0
        dp = 0.0
        for i in range(c.n_ties):
            t = ties[i]
            if _num_in(t, -5e6, 5e6):
                dp += t
            else:
                bad = True
        dp -= sched
        if not _num_in(age_s, 0.0, c.max_age_ms / 1000.0):
            bad = True
        ace = dp + c.k_mw_hz * 1000.0 * df
        tau = c.lpf_tau_ms / 1000.0
        if tau > 0.0 and self.lpf_ok:
            self.lpf += (ace - self.lpf) * dt / (tau + dt)
        else:
            self.lpf = ace
            self.lpf_ok = True
        e = self.lpf
        db = float(c.deadband_kw)
        e = e - db if e > db else (e + db if e < -db else 0.0)
        up = float(min(c.band_up_kw, c.rating_kw))
        down = float(min(c.band_down_kw, c.rating_kw))
        h = c.cycle_ms / 1000.0
        head = (soc - c.soc_min_x100 / 10000.0) * c.cap_kwh * 3600.0
        up = min(up, max(0.0, head * (c.eta_dis_pm / 1000.0) / h))
        head = (c.soc_max_x100 / 10000.0 - soc) * c.cap_kwh * 3600.0
        down = min(down, max(0.0, head / (c.eta_ch_pm / 1000.0) / h))
        p_term = e * c.kp_q15 / 32768.0
        target = 0.0 if bad else min(up, max(-down, self.i - p_term))
        r = max(c.band_up_kw, c.band_down_kw) * (dt or h) / c.fat_s
        r = min(r, c.unit_ramp_kw_s * (dt or h))
        p = min(self.p + r, max(self.p - r, target))
        p = min(up, max(-down, p))
        if not bad and c.ti_s:
            self.i = min(up, max(-down, self.i - e * dt / c.ti_s))
        # energy of the interval just ended, split at the ISP boundary
        isp = int(t_s // 900.0)
        if self.last_t >= 0.0:
            span = t_s - self.last_t
            if isp != self.isp:
                before = span - (t_s - isp * 900.0)
                self._add(self.p, ace, before)
                self.isp, self.n_rows = isp, 0
                self.up_kws = self.down_kws = self.ace_mws = 0.0
                span -= before
            self._add(self.p, ace, span)
            pos = t_s - isp * 900.0
            while self.n_rows < int(pos // 60.0):
                self.rows[self.n_rows] = self.up_kws / pos
                self.n_rows += 1
        else:
            self.isp = isp
        self.last_t = t_s
        self.p = p
        return p

    def _add(self, p, ace, span):
        if p > 0.0:
            self.up_kws += p * span
        else:
            self.down_kws -= p * span
        self.ace_mws += ace / 1000.0 * span


def main(n):
    cfg = Config(band_up_kw=5000, band_down_kw=5000, rating_kw=5000, n_ties=3, cap_kwh=4000)
    ctl = Controller(cfg)
    ctl.set_mode(MODE_LOCAL)
    m = ctl.meas
    freqs = [49900 + (k * 37) % 200 for k in range(256)]
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t0 = time.ticks_us()
    for k in range(n):
        m.f_mhz = freqs[k & 255]
        m.ties_kw[0] = k & 1023
        m.tod_ms = (k * 4000) % 86400000
        ctl.step(m, 4000)
    t1 = time.ticks_us()
    a1 = gc.mem_alloc()
    gc.enable()
    ref = FloatStep(cfg)
    fhz = [f / 1000.0 for f in freqs]
    ties = [0.0, -100.0, 50.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    gc.collect()
    gc.disable()
    b0 = gc.mem_alloc()
    t2 = time.ticks_us()
    for k in range(n):
        ties[0] = float(k & 1023)
        ref.step(fhz[k & 255], ties, 100.0, 0.5, 0.1, (k * 4.0) % 86400.0, 4.0)
        if k & 1023 == 1023:  # keep the float garbage inside the heap; counted below
            b0 -= gc.mem_alloc()
            gc.collect()
            b0 += gc.mem_alloc()
    t3 = time.ticks_us()
    b1 = gc.mem_alloc()
    gc.enable()
    print(json.dumps({
        "bench": "control_step", "runtime": "micropython-unix", "steps": n,
        "us_per_step": round(time.ticks_diff(t1, t0) / n, 3),
        "heap_bytes_per_step": round((a1 - a0) / n, 3),
        "float_reference_us_per_step": round(time.ticks_diff(t3, t2) / n, 3),
        "float_reference_heap_bytes_per_step": round((b1 - b0) / n, 3),
    }))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
