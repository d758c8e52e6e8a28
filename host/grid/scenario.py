# Exogenous injections of a scenario: seeded load noise, hourly schedule steps, events (MW).
#
# u_i(t) (MW, + = more injection into area i, i.e. a surplus) is the sum of
#  - noise: Ornstein-Uhlenbeck per area, std noise_std_mw, correlation time noise_tau_s;
#  - hourly: generation follows an hourly schedule S_h ramped over +-5 min around each hour
#    (the CE ramping practice, assumed 10 min total), load moves linearly between the
#    mid-hour points S_h; u = G - L gives the deterministic deviations around each hour;
#  - events: load steps (u -= mw) and HVDC trips (u -= scheduled import) from t_s on.
# Generated in one-hour chunks from numpy's PCG64 seeded with (seed, chunk), so a run is
# reproducible and needs no horizon.
import math

import numpy as np

_RAMP_S = 300.0   # half-width of the hourly schedule ramp (assumed: 10 min ramps in CE)
_AR_BLOCK = 64    # samples per block of ar1()


def ar1(e, a, y0):
    """y[k] = a * y[k-1] + e[k] for k = 0.., with y[-1] = y0: the first-order recursion of an
    Ornstein-Uhlenbeck process sampled at fixed steps (scipy.signal.lfilter([1], [1, -a], e,
    zi=[a * y0]) gives the same to rounding; importing scipy.signal costs about 1 s).

    In blocks of _AR_BLOCK samples: within a block, from a zero start, a lower-triangular
    matrix product (T[j, m] = a^(j-m)); then each block's start carries over, one recursion
    step per block, and adds a^(j+1) * start to its samples."""
    e = np.asarray(e, dtype=float)
    n = len(e)
    if n == 0:
        return e.copy()
    size = _AR_BLOCK
    blocks = -(-n // size)
    eb = np.zeros(blocks * size)
    eb[:n] = e
    eb = eb.reshape(blocks, size)
    j = np.arange(size)
    lag = j[:, None] - j[None, :]
    t = np.where(lag >= 0, float(a) ** np.maximum(lag, 0), 0.0)
    z = eb @ t.T                        # each block's response from a zero start
    a_size = float(a) ** size
    starts = np.empty(blocks)
    prev = float(y0)
    for b in range(blocks):
        starts[b] = prev
        prev = a_size * prev + z[b, -1]
    y = z + starts[:, None] * (float(a) ** (j + 1))[None, :]
    return y.reshape(-1)[:n]


class Disturbances:
    def __init__(self, world, scenario, seed, step_s):
        self.world, self.sc, self.seed, self.dt = world, scenario, int(seed), float(step_s)
        na = len(world.areas)
        self.na = na
        self.chunk = max(1, int(round(3600.0 / self.dt)))
        self.std = np.array([a.noise_std_mw for a in world.areas])
        tau = np.array([a.noise_tau_s for a in world.areas])
        self.ar = np.exp(-self.dt / tau)
        self.hourly = np.array([a.hourly_step_mw for a in world.areas])
        self._ou = np.zeros(na)
        self._chunks = {}
        self._next = 0
        links = {h.name: h for h in world.hvdc}
        self.events = []     # (step, area index, MW delta)
        for e in scenario.events:
            k = int(math.ceil(e.t_s / self.dt - 1e-9))
            if e.kind == "load_step":
                self.events.append((k, world.area_index(e.area), -e.mw))
            else:
                h = links[e.link]
                sign = -1.0 if e.kind == "hvdc_trip" else 1.0
                self.events.append((k, world.area_index(h.area), sign * h.import_mw))

    def _levels(self, hours):
        out = np.empty((len(hours), self.na))
        for j, h in enumerate(hours):
            rng = np.random.default_rng([self.seed, 7, int(h)])
            out[j] = rng.standard_normal(self.na) * self.hourly
        return out

    def _make(self, c):
        n, na, dt = self.chunk, self.na, self.dt
        k0 = c * n
        u = np.zeros((n, na))
        t = (k0 + np.arange(n)) * dt
        if self.sc.noise and np.any(self.std > 0):
            rng = np.random.default_rng([self.seed, 1, c])
            e = rng.standard_normal((n, na)) * (self.std * np.sqrt(1.0 - self.ar ** 2))
            for i in range(na):
                y = ar1(e[:, i], self.ar[i], self._ou[i])
                u[:, i] += y
                self._ou[i] = y[-1]
        if self.sc.hourly and np.any(self.hourly > 0):
            h0 = int(t[0] // 3600.0)
            h1 = int(t[-1] // 3600.0) + 2
            hs = np.arange(max(h0 - 1, 0), h1 + 1)
            lv = self._levels(hs)
            for i in range(na):
                # generation: S_{h-1} -> S_h across [h*3600 - 300, h*3600 + 300]
                gx, gy = [], []
                for j, h in enumerate(hs):
                    if h == 0:
                        gx.append(0.0)
                        gy.append(lv[j, i])
                    elif j > 0:
                        gx += [h * 3600.0 - _RAMP_S, h * 3600.0 + _RAMP_S]
                        gy += [lv[j - 1, i], lv[j, i]]
                lx = [0.0] if hs[0] == 0 else []
                ly = [lv[0, i]] if hs[0] == 0 else []
                lx += list(hs * 3600.0 + 1800.0)
                ly += list(lv[:, i])
                u[:, i] += np.interp(t, gx, gy) - np.interp(t, lx, ly)
        for k, i, mw in self.events:
            if k < k0 + n:
                u[max(k - k0, 0):, i] += mw
        return u

    def injection(self, k0, n):
        """(n, na) MW for steps k0 .. k0+n-1; chunks are made in order and kept one back."""
        out = np.empty((n, self.na))
        pos = 0
        while pos < n:
            k = k0 + pos
            c = k // self.chunk
            while self._next <= c:
                self._chunks[self._next] = self._make(self._next)
                self._chunks.pop(self._next - 2, None)
                self._next += 1
            if c not in self._chunks:
                raise RuntimeError("disturbance chunk %d already dropped" % c)
            off = k - c * self.chunk
            m = min(n - pos, self.chunk - off)
            out[pos:pos + m] = self._chunks[c][off:off + m]
            pos += m
        return out
