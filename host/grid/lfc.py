# Baseline TSO load-frequency control: per-area PI on ACE with anti-windup, IGCC hook, providers.
#
# ACE_i = (sum of AC tie exports - scheduled export - IGCC exchange) + K_i df_i   (MW)
# demand_i = -beta_i ACE_i - (1/Tr_i) integral(ACE_i dt)   (+ = upward), each 4 s cycle;
# anti-windup: the integral term alone is clamped to [-afrr_down, afrr_up] (clamping), and the
# sum to the same band. Providers (aggregate) follow the target after netting with a ramp of
# max(up, down) / FAT (full activation time, 5 min standard product).
import numpy as np

# IGCC netting: the maximum netted volume, as the market's activation LP without bids nets it
from host.market.netting import net as _market_net


def ramp(p0, target, max_move):
    """p0 moved toward target by at most max_move (element-wise, numpy broadcasting)."""
    return p0 + np.clip(target - p0, -max_move, max_move)


class TsoLfc:
    def __init__(self, world, enabled=True, netting=True):
        a = world.areas
        self.names = [x.name for x in a]
        self.enabled = enabled
        self.beta = np.array([x.lfc_beta for x in a])
        self.tr = np.array([x.lfc_tr_s for x in a])
        self.up = np.array([x.afrr_up_mw for x in a])
        self.down = np.array([x.afrr_down_mw for x in a])
        self.rate = np.maximum(self.up, self.down) / np.array([x.afrr_fat_s for x in a])
        self.k = np.array([x.k_mw_per_hz for x in a])
        self.sched = np.array([x.sched_export_mw for x in a])
        na = len(a)
        self.active = np.ones(na, dtype=bool)   # areas whose TSO LFC runs
        self.integ = np.zeros(na)      # MW*s, integral of ACE
        self.demand = np.zeros(na)     # MW, PI output (+ = upward)
        self.target = np.zeros(na)     # MW, after netting: what providers are asked for
        self.igcc = np.zeros(na)       # MW, netting exchange per area, export +
        self.netted_up = np.zeros(na)   # MW per area, last cycle (IGCC+ import, >= 0)
        self.netted_down = np.zeros(na)  # MW per area (IGCC- export, >= 0)
        self.exchange_kw = {}           # (a, b) -> kW from a to b, last netting
        self.borders = {}
        for t in world.ties:
            self.borders[(t.a, t.b)] = (t.cap_ab_mw * 1000.0, t.cap_ba_mw * 1000.0)
        self.netting = bool(netting and len(a) > 1)

    def ace(self, df_hz, ties_export_mw):
        return ties_export_mw - self.sched - self.igcc + self.k * df_hz

    def cycle(self, ace_mw, dt_s):
        """One LFC cycle: new demand and provider target (MW)."""
        if not self.enabled:
            self.demand[:] = 0.0
            self.target[:] = 0.0
            return self.target
        self.integ += np.where(self.active, ace_mw, 0.0) * dt_s
        i_term = np.clip(-self.integ / self.tr, -self.down, self.up)
        self.integ = -i_term * self.tr
        self.demand = np.clip(-self.beta * ace_mw + i_term, -self.down, self.up)
        self.demand[~self.active] = 0.0
        if self.netting and np.any(self.demand > 0) and np.any(self.demand < 0):
            self._net()
        else:   # nothing to net when no two areas ask in opposite directions
            self.target = self.demand.copy()
            self.igcc[:] = 0.0
            self.exchange_kw = {}
            self.netted_up[:] = 0.0
            self.netted_down[:] = 0.0
        return self.target

    def _net(self):
        res = _market_net({n: float(d) * 1000.0 for n, d in zip(self.names, self.demand)},
                          self.borders)
        self.target = np.array([res.after_kw[n] / 1000.0 for n in self.names])
        ex = np.zeros(len(self.names))
        for key, kw in res.exchange_kw.items():
            if isinstance(key, tuple):          # border (a, b): kW from a to b
                ex[self.names.index(key[0])] += kw / 1000.0
                ex[self.names.index(key[1])] -= kw / 1000.0
            else:                               # per area, export +
                ex[self.names.index(key)] += kw / 1000.0
        self.igcc = ex
        self.exchange_kw = dict(res.exchange_kw)
        self.netted_up = np.array([res.netted_up_kw.get(n, 0.0) for n in self.names]) / 1000.0
        self.netted_down = np.array([res.netted_down_kw.get(n, 0.0)
                                     for n in self.names]) / 1000.0

    def provider_path(self, p0, n, dt_s):
        """Delivered aFRR during the next n steps (n, na), ramp-limited toward the target."""
        steps = (np.arange(1, n + 1) * dt_s)[:, None]
        return ramp(p0, self.target, self.rate * steps)
