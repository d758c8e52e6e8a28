# Battery and flexible load: response delay, ramp, power and energy limits; + = upward (kW).
#
# Battery (store energy E in kWh, 0 <= soc_min <= E/cap <= soc_max <= 1):
#   discharge p > 0: dE/dt = -p / eta_dis - aux;   charge p < 0: dE/dt = -p * eta_ch - aux
#   (aux_kw is drawn from the store, so SoC drains at rest; the grid sees p only).
# The set-point reaches the inverter delay_s late (transport + control delay, held between
# samples), is clipped to +-rating, followed at ramp_kw_s, and cut where the store would leave
# [soc_min, soc_max] within the step.
# Flexible load: consumption c in [min_kw, max_kw], baseline b; injection p = b - c.
import collections
import math


class PlantError(ValueError):
    """Invalid plant physics; names the field."""

    def __init__(self, fld, msg):
        super().__init__("plant field '%s': %s" % (fld, msg))
        self.field = fld


def _check(name, value, lo, hi, lo_open=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PlantError(name, "must be a number (got %r)" % (value,)) from None
    if math.isnan(v) or v < lo or v > hi or (lo_open and v == lo):
        raise PlantError(name, "must be in %s%g, %g] (got %g)" % ("(" if lo_open else "[",
                                                                    lo, hi, v))
    return v


class _Delay:
    """Pure transport delay on a held (zero-order) signal, driven by explicit dt."""

    def __init__(self, delay_s):
        self.delay_s = delay_s
        self.t = 0.0
        self.q = collections.deque()   # (time the value was set, value)
        self.out = 0.0

    def step(self, value, dt_s):
        self.q.append((self.t, value))
        self.t += dt_s
        while self.q and self.q[0][0] <= self.t - self.delay_s + 1e-9:
            self.out = self.q.popleft()[1]
        return self.out


class Battery:
    def __init__(self, rating_kw=1000, cap_kwh=2000, soc=0.5, eta_ch=0.95, eta_dis=0.95,
                 delay_s=1.0, ramp_kw_s=1000, aux_kw=2, soc_min=0.0, soc_max=1.0):
        self.rating_kw = _check("rating_kw", rating_kw, 0.0, 1e7, lo_open=True)
        self.cap_kwh = _check("cap_kwh", cap_kwh, 0.0, 1e8, lo_open=True)
        self.eta_ch = _check("eta_ch", eta_ch, 0.0, 1.0, lo_open=True)
        self.eta_dis = _check("eta_dis", eta_dis, 0.0, 1.0, lo_open=True)
        self.delay_s = _check("delay_s", delay_s, 0.0, 3600.0)
        self.ramp_kw_s = _check("ramp_kw_s", ramp_kw_s, 0.0, 1e9, lo_open=True)
        self.aux_kw = _check("aux_kw", aux_kw, 0.0, 1e6)
        self.soc_min = _check("soc_min", soc_min, 0.0, 1.0)
        self.soc_max = _check("soc_max", soc_max, 0.0, 1.0)
        if self.soc_max < self.soc_min:
            raise PlantError("soc_max", "must be >= soc_min")
        s = _check("soc", soc, 0.0, 1.0)
        self.energy_kwh = s * self.cap_kwh      # kWh stored
        self.p_kw = 0.0                         # kW delivered, + = discharge (upward)
        self.limited = False                    # last step cut by the energy limits
        self._delay = _Delay(self.delay_s)

    @property
    def soc(self):
        return self.energy_kwh / self.cap_kwh

    def step(self, p_set_kw, dt_s):
        """Advance dt_s seconds with set-point p_set_kw; returns delivered kW (+ = discharge)."""
        dt = float(dt_s)
        if not dt > 0:
            raise PlantError("dt_s", "must be > 0 (got %r)" % (dt_s,))
        cmd = self._delay.step(float(p_set_kw), dt)
        cmd = max(-self.rating_kw, min(self.rating_kw, cmd))
        d = self.ramp_kw_s * dt
        p = self.p_kw + max(-d, min(d, cmd - self.p_kw))
        h = dt / 3600.0
        e_aux = self.aux_kw * h
        self.limited = False
        if p > 0:
            room = self.energy_kwh - e_aux - self.soc_min * self.cap_kwh
            p_max = max(0.0, room) * self.eta_dis / h
            if p > p_max:
                p, self.limited = p_max, True
            self.energy_kwh -= p / self.eta_dis * h + e_aux
        else:
            room = self.soc_max * self.cap_kwh - (self.energy_kwh - e_aux)
            p_min = -max(0.0, room) / self.eta_ch / h
            if p < p_min:
                p, self.limited = p_min, True
            self.energy_kwh -= p * self.eta_ch * h + e_aux
        self.energy_kwh = max(0.0, self.energy_kwh)
        self.p_kw = p
        return p


class FlexLoad:
    def __init__(self, baseline_kw=1000, min_kw=0, max_kw=2000, delay_s=1.0, ramp_kw_s=1000):
        self.max_kw = _check("max_kw", max_kw, 0.0, 1e7)
        self.min_kw = _check("min_kw", min_kw, 0.0, self.max_kw)
        self.baseline_kw = _check("baseline_kw", baseline_kw, self.min_kw, self.max_kw)
        self.delay_s = _check("delay_s", delay_s, 0.0, 3600.0)
        self.ramp_kw_s = _check("ramp_kw_s", ramp_kw_s, 0.0, 1e9, lo_open=True)
        self.load_kw = self.baseline_kw     # kW consumed now
        self._delay = _Delay(self.delay_s)

    @property
    def p_kw(self):
        """Injection relative to baseline, + = load reduction (upward)."""
        return self.baseline_kw - self.load_kw

    def step(self, p_set_kw, dt_s):
        dt = float(dt_s)
        if not dt > 0:
            raise PlantError("dt_s", "must be > 0 (got %r)" % (dt_s,))
        cmd = self._delay.step(float(p_set_kw), dt)
        want = max(self.min_kw, min(self.max_kw, self.baseline_kw - cmd))
        d = self.ramp_kw_s * dt
        self.load_kw += max(-d, min(d, want - self.load_kw))
        return self.p_kw
