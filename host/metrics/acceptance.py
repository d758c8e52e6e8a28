"""German aFRR acceptance band and allocable under-fulfilment on 1 s series, plus a separate
prequalification-style step check.

Source: the German TSOs' settlement model for aFRR energy in force since 2021-10-01
(regelleistung.net, "Modellbeschreibung aFRR-Abrechnung"). The PDF itself could not be read
from where this was written; the formulas and their numbers below are the document's as the
public reference implementation energy2market/afrr-remuneration cites them (read for the facts
only). Units: kW, seconds; + = positive aFRR (upward, injection).

For a set-point s(t) and a measured power m(t), one value per second:

  max31(t)  = max s over [t-31, t]          min31(t)  = min s over [t-31, t]
  max301(t) = max s over [t-301, t-31]      min301(t) = min s over [t-301, t-31]
  g_up(t)   = max(|max301 - max31|, 1 MW) / 270 s                               (1)
  g_low(t)  = max(|min301 - min31|, 1 MW) / 270 s                               (2)
  OGA(t)    = max(max31(t), OGA(t-1) - g_up(t))      upper acceptance limit     (3)
  UGA(t)    = min(min31(t), UGA(t-1) + g_low(t))     lower acceptance limit     (4)
            from a product boundary (every 4 h: 00, 04, 08 .. UTC) until its reversal point
            OGA >= 0 and UGA <= 0
  OTG(t)    = OGA + 5 % |OGA|,  UTG(t) = UGA - 5 % |UGA|     tolerance limits   (5, 6)
  AKZ+(t)   = min(m, OGA)   where m > 0 and OGA > 0, else 0   accepted power    (7)
  AKZ-(t)   = |max(m, UGA)| where m < 0 and UGA < 0, else 0                      (8)
  UE+(t)    = max(0, UTG - AKZ+)   where UTG > 0, else 0      under-fulfilment  (9)
  UE-(t)    = max(0, |OTG| - AKZ-) where OTG < 0, else 0                         (10)
  flag±(t)  = UE±(t) > 0;  share±(t) = flagged seconds of that direction in the
              300 s ending at t, [t-299, t], divided by 300                      (17, 18)
  ZUE±(t)   = UE±(t) where share±(t) > 5 %, else 0    allocable under-fulfilment (19, 20)

Power beyond the acceptance limits (over-fulfilment) is not accepted and never flagged. A
unit that follows its set-point with a delay of up to 31 s is never flagged: m(t) lies in
[min31(t), max31(t)], inside [UGA, OGA], and UTG < UGA, OTG > OGA whenever they could flag.

The product-change phase (the document's "Produktwechsel" and "Umkehrpunkt"): it starts at a
product boundary t_b and ends at the first t >= t_b (the reversal point) at which any of
  - 300 s have passed (t - t_b >= 300),
  - |s| over the next 65 s, [t, t+65], is nowhere below |s(t)|,
  - s changes sign between t-1 and t, or
  - s(t) = 0
holds; the clamp OGA >= 0, UGA <= 0 applies on [t_b, reversal point). During the phase a unit
may therefore drop to zero while the previous product's set-point ramps out.

Where this reading departs from the summary we were given or from the reference code:
- The summary gives the windows, gradients, recursion and tolerance only; the reversal-point
  conditions above come from the document's list as the reference implementation cites it
  (pages 13-17). The reference also ends the phase when the set-point exceeds the previous
  product's awarded capacity; awarded capacity is not an input here, so that condition is
  not modelled. The reference starts the clamp one second after the boundary; we start it at
  the boundary, as the summary says.
- Under-fulfilment in the negative direction is judged against the *upper* tolerance limit
  OTG (formula 10: the limit nearer to zero when both are negative); the summary's "negative
  mirrored" means exactly this.
- Before the first sample the set-point is taken as held at s(0) (so the first 301 s have
  full windows, as a unit in steady state), and flags before the first sample count as not
  flagged; the 300 s share is always over 300 s. The reference code never allocates in the
  first 299 s of a series; we do, when more than 15 s are flagged.
- The reference rounds set-points and gradients to 1 kW / 1 W per second; we compute in
  float64 without rounding. The tolerance 5 % of x is computed as |x| * 5 / 100 so that, e.g.,
  a unit exactly 5 % short of a steady set-point of 500 kW is on the limit, not under it.
- The document's allocable acceptance and "account" (Konto, formulas 13-16: capping the
  remunerated energy at the set-point) and the split over bids are remuneration, not
  acceptance; they are not computed here. Accepted energy below is the energy of AKZ±.

The prequalification-style step check (`prequalification_steps`) is separate: it judges
only set-point steps that follow a settled set-point and is never part of `passed`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from .utc import DEFAULT_START_UTC_S, utc_iso

REACTION_S = 31          # the reaction window [t-31, t]
RAMP_WINDOW_S = 301      # the earlier window reaches back to t-301
GRADIENT_SPAN_S = 270    # gradients: max(|difference|, 1 MW) / 270 s
MIN_STEP_KW = 1000.0     # the 1 MW in the gradient formula
TOLERANCE_PCT = 5        # tolerance limits: 5 % of each acceptance limit's magnitude
SHARE_WINDOW_S = 300     # allocability: share of flagged seconds in the trailing 300 s ...
SHARE_LIMIT_PCT = 5      # ... must exceed 5 %
PRODUCT_S = 4 * 3600     # product time slices of 4 h from 00:00 UTC
PHASE_MAX_S = 300        # the product-change phase lasts at most 300 s
REVERSAL_LOOKAHEAD_S = 65
ISP_S = 900


def _trailing(x, w, fn):
    """fn (max or min filter) over [t-w+1, t], x held at x[0] before the start."""
    pad = np.concatenate([np.full(w - 1, x[0]), x])
    c = fn(pad, size=w, mode="nearest")
    return c[w // 2: w // 2 + len(x)]


def _lagged(trail, lag, first):
    """trail(t - lag), `first` for t < lag (the held first value)."""
    out = np.empty_like(trail)
    out[:lag] = first
    out[lag:] = trail[:len(trail) - lag] if len(trail) > lag else trail[:0]
    return out


def _tol(x):
    return np.abs(x) * TOLERANCE_PCT / 100.0


def product_change_mask(setpoint_kw, start_utc_s):
    """True on [product boundary, reversal point) for every boundary inside the series."""
    s = np.asarray(setpoint_kw, dtype=float)
    n = len(s)
    mask = np.zeros(n, dtype=bool)
    first = (-int(start_utc_s)) % PRODUCT_S
    a = np.abs(s)
    sg = np.sign(s)
    for tb in range(first, n, PRODUCT_S):
        t = tb
        while t < n:
            prev = sg[t - 1] if t > 0 else sg[0]
            if (t - tb >= PHASE_MAX_S or s[t] == 0 or sg[t] != prev
                    or a[t:t + REVERSAL_LOOKAHEAD_S + 1].min() >= a[t]):
                break
            t += 1
        mask[tb:t] = True
    return mask


@dataclass
class AcceptanceResult:
    """Per-second arrays (kW unless noted, one value per second of the series) and totals."""
    start_utc_s: int
    setpoint_kw: np.ndarray
    measured_kw: np.ndarray
    oga_kw: np.ndarray            # upper acceptance limit
    uga_kw: np.ndarray            # lower acceptance limit
    otg_kw: np.ndarray            # upper tolerance limit
    utg_kw: np.ndarray            # lower tolerance limit
    product_change: np.ndarray    # bool: inside a product-change phase (clamp active)
    accepted_pos_kw: np.ndarray   # AKZ+ >= 0
    accepted_neg_kw: np.ndarray   # AKZ- >= 0 (magnitude)
    under_pos_kw: np.ndarray      # UE+ >= 0
    under_neg_kw: np.ndarray      # UE- >= 0 (magnitude)
    flag_pos: np.ndarray          # bool
    flag_neg: np.ndarray
    share_pos: np.ndarray         # flagged share of the trailing 300 s
    share_neg: np.ndarray
    allocable_pos_kw: np.ndarray  # ZUE+ >= 0
    allocable_neg_kw: np.ndarray  # ZUE- >= 0
    isps: list = field(default_factory=list)

    @property
    def seconds(self):
        return int(len(self.setpoint_kw))

    @property
    def charged(self):
        """bool per second: allocable under-fulfilment in either direction."""
        return (self.allocable_pos_kw > 0) | (self.allocable_neg_kw > 0)

    @property
    def charged_seconds(self):
        return int(np.count_nonzero(self.charged))

    @property
    def flagged_seconds(self):
        return int(np.count_nonzero(self.flag_pos | self.flag_neg))

    @property
    def passed(self):
        """True iff no second carries allocable under-fulfilment."""
        return self.charged_seconds == 0

    @property
    def accepted_kwh_pos(self):
        return float(self.accepted_pos_kw.sum()) / 3600.0

    @property
    def accepted_kwh_neg(self):
        return float(self.accepted_neg_kw.sum()) / 3600.0

    @property
    def under_kwh_pos(self):
        """Allocable (charged) under-fulfilled energy, positive direction, kWh."""
        return float(self.allocable_pos_kw.sum()) / 3600.0

    @property
    def under_kwh_neg(self):
        return float(self.allocable_neg_kw.sum()) / 3600.0

    @property
    def isps_failed(self):
        return sum(1 for q in self.isps if not q["passed"])

    def summary(self):
        """Plain dict (JSON-ready): verdict, totals and the per-ISP list."""
        return {"start_utc": utc_iso(self.start_utc_s), "seconds": self.seconds,
                "passed": self.passed, "charged_seconds": self.charged_seconds,
                "flagged_seconds": self.flagged_seconds,
                "under_kwh_pos": self.under_kwh_pos, "under_kwh_neg": self.under_kwh_neg,
                "accepted_kwh_pos": self.accepted_kwh_pos,
                "accepted_kwh_neg": self.accepted_kwh_neg,
                "isps_failed": self.isps_failed, "isps": list(self.isps)}


def _window_count(flags):
    """Flagged seconds in [t-299, t] (none before the start)."""
    c = np.concatenate([[0], np.cumsum(flags)])
    lo = np.maximum(np.arange(1, len(flags) + 1) - SHARE_WINDOW_S, 0)
    return c[1:] - c[lo]


def _isp_rows(r):
    t_utc = r.start_utc_s + np.arange(r.seconds)
    q = t_utc // ISP_S
    rows = []
    edges = np.nonzero(np.diff(q))[0] + 1
    for a, b in zip(np.concatenate([[0], edges]), np.concatenate([edges, [r.seconds]])):
        sl = slice(int(a), int(b))
        q0 = int(q[a]) * ISP_S
        charged = int(np.count_nonzero(r.charged[sl]))
        rows.append({
            "isp_start_utc_s": q0, "isp_start_utc": utc_iso(q0), "isp_end_utc": utc_iso(q0 + ISP_S),
            "seconds": int(b - a),
            "accepted_kwh_pos": float(r.accepted_pos_kw[sl].sum()) / 3600.0,
            "accepted_kwh_neg": float(r.accepted_neg_kw[sl].sum()) / 3600.0,
            "under_kwh_pos": float(r.allocable_pos_kw[sl].sum()) / 3600.0,
            "under_kwh_neg": float(r.allocable_neg_kw[sl].sum()) / 3600.0,
            "flagged_s_pos": int(np.count_nonzero(r.flag_pos[sl])),
            "flagged_s_neg": int(np.count_nonzero(r.flag_neg[sl])),
            "charged_seconds": charged, "passed": charged == 0})
    return rows


def evaluate(setpoint_kw, measured_kw, start_utc_s=DEFAULT_START_UTC_S):
    """Acceptance band and allocable under-fulfilment of 1 s series (kW, + = upward).

    setpoint_kw, measured_kw: one value per second, same length >= 1, finite.
    start_utc_s: UTC epoch second of the first sample (product boundaries and ISPs are UTC).
    Returns an AcceptanceResult."""
    s = np.asarray(setpoint_kw, dtype=float)
    m = np.asarray(measured_kw, dtype=float)
    if s.ndim != 1 or s.shape != m.shape or len(s) == 0:
        raise ValueError("set-point and measured must be 1-D series of the same length >= 1")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(m))):
        raise ValueError("set-point and measured must be finite numbers")
    start_utc_s = int(start_utc_s)
    n = len(s)
    lag = REACTION_S
    w_lag = RAMP_WINDOW_S - REACTION_S + 1            # [t-301, t-31]: 271 samples
    max31 = _trailing(s, REACTION_S + 1, maximum_filter1d)
    min31 = _trailing(s, REACTION_S + 1, minimum_filter1d)
    max301 = _lagged(_trailing(s, w_lag, maximum_filter1d), lag, s[0])
    min301 = _lagged(_trailing(s, w_lag, minimum_filter1d), lag, s[0])
    g_up = np.maximum(np.abs(max301 - max31), MIN_STEP_KW) / GRADIENT_SPAN_S
    g_low = np.maximum(np.abs(min301 - min31), MIN_STEP_KW) / GRADIENT_SPAN_S
    clamp = product_change_mask(s, start_utc_s)
    oga = np.empty(n)
    uga = np.empty(n)
    o = u = float(s[0])
    mx, mn, gu, gl, cl = max31.tolist(), min31.tolist(), g_up.tolist(), g_low.tolist(), \
        clamp.tolist()
    for t in range(n):
        o = max(mx[t], o - gu[t])
        u = min(mn[t], u + gl[t])
        if cl[t]:
            o = max(o, 0.0)
            u = min(u, 0.0)
        oga[t] = o
        uga[t] = u
    otg = oga + _tol(oga)
    utg = uga - _tol(uga)
    akz_pos = np.where((m > 0) & (oga > 0), np.minimum(m, oga), 0.0)
    akz_neg = np.where((m < 0) & (uga < 0), np.abs(np.maximum(m, uga)), 0.0)
    ue_pos = np.where(utg > 0, np.maximum(0.0, utg - akz_pos), 0.0)
    ue_neg = np.where(otg < 0, np.maximum(0.0, np.abs(otg) - akz_neg), 0.0)
    f_pos, f_neg = ue_pos > 0, ue_neg > 0
    c_pos, c_neg = _window_count(f_pos), _window_count(f_neg)
    sh_pos, sh_neg = c_pos / SHARE_WINDOW_S, c_neg / SHARE_WINDOW_S
    # share > 5 % compared in integers: count * 100 > 5 * 300
    lim = SHARE_LIMIT_PCT * SHARE_WINDOW_S
    zue_pos = np.where(c_pos * 100 > lim, ue_pos, 0.0)
    zue_neg = np.where(c_neg * 100 > lim, ue_neg, 0.0)
    r = AcceptanceResult(start_utc_s, s, m, oga, uga, otg, utg, clamp, akz_pos, akz_neg,
                         ue_pos, ue_neg, f_pos, f_neg, sh_pos, sh_neg, zue_pos, zue_neg)
    r.isps = _isp_rows(r)
    return r


def prequalification_steps(setpoint_kw, measured_kw, reaction_s=30, fat_s=300,
                           settle_s=31, share_pct=TOLERANCE_PCT):
    """Prequalification-style step check, separate from the settlement model above.

    Judged: every second t0 where the set-point changes (d = s(t0) - s(t0-1) != 0) after it
    was constant over [t0 - settle_s, t0 - 1] (held at s(0) before the start):
    - reaction: within [t0, t0 + reaction_s] the measured power moved from m(t0-1) towards the
      new set-point by more than share_pct % of |d| (judged when the series covers it);
    - reached: if the set-point then stays constant over [t0, t0 + fat_s] (inside the series),
      |m - s(t0)| <= share_pct % of |d| at some second in that span.
    A unit that follows exactly or delayed by up to min(reaction_s, settle_s - 1) s passes
    both. Returns {"steps", "late_reactions_s", "not_reached_s", "passed"} (t0 lists)."""
    s = np.asarray(setpoint_kw, dtype=float)
    m = np.asarray(measured_kw, dtype=float)
    if s.ndim != 1 or s.shape != m.shape:
        raise ValueError("set-point and measured must be 1-D series of the same length")
    n = len(s)
    late, not_reached, steps = [], [], []
    if n < 2:
        return {"steps": 0, "late_reactions_s": late, "not_reached_s": not_reached,
                "passed": True}
    change = np.concatenate([[False], s[1:] != s[:-1]])
    idx = np.nonzero(change)[0]
    last_change = -settle_s   # held at s(0) before the start
    for t0 in idx:
        t0 = int(t0)
        quiet_since = last_change
        last_change = t0
        if t0 - quiet_since < settle_s:
            continue
        d = s[t0] - s[t0 - 1]
        thr = abs(d) * share_pct / 100.0
        steps.append(t0)
        if t0 + reaction_s < n:
            moved = (m[t0:t0 + reaction_s + 1] - m[t0 - 1]) * math.copysign(1.0, d)
            if not np.any(moved > thr):
                late.append(t0)
        if t0 + fat_s < n and np.all(s[t0:t0 + fat_s + 1] == s[t0]):
            if not np.any(np.abs(m[t0:t0 + fat_s + 1] - s[t0]) <= thr):
                not_reached.append(t0)
    return {"steps": len(steps), "late_reactions_s": late, "not_reached_s": not_reached,
            "passed": not late and not not_reached}
