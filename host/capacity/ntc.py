"""NTC = TTC - TRM per border and direction, and the capacity left free for aFRR (PICASSO).

Sources: baltic-lt-ccm-explanatory-note.txt ("NTC value will be obtained by subtracting TRM
value from TTC"; "TTC for LT-PL cross border shall be the minimum of static, transient,
oscillatory and frequency stability limits"); cross-zonal-capacity-for-balancing.txt (MARI
gets priority over PICASSO to lock in the residual free capacity).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

LIMIT_NAMES = ("static", "transient", "oscillatory", "frequency")


def ttc_mw(static=math.inf, transient=math.inf, oscillatory=math.inf, frequency=math.inf):
    """TTC (MW, one direction) = the minimum of the stability limits; a missing limit is inf."""
    vals = dict(static=static, transient=transient, oscillatory=oscillatory, frequency=frequency)
    for k, v in vals.items():
        if not (v >= 0):  # also NaN
            raise ValueError(f"{k} limit must be >= 0 MW, got {v!r}")
    return min(vals.values())


def ntc_mw(ttc, trm):
    """NTC = TTC - TRM (MW), never below zero."""
    if not (ttc >= 0 and trm >= 0):
        raise ValueError(f"TTC and TRM must be >= 0 MW, got TTC={ttc!r}, TRM={trm!r}")
    return max(0.0, ttc - trm)


@dataclass(frozen=True)
class BorderCapacity:
    """One border (a, b), every value a pair (a->b, b->a) in MW.

    limits: name -> (a->b, b->a) for any of static/transient/oscillatory/frequency.
    allocated: capacity already allocated (day-ahead/intraday/balancing capacity).
    mfrr: capacity used by mFRR (MARI), served before aFRR.
    """
    a: str
    b: str
    limits: dict
    trm: tuple = (0.0, 0.0)
    allocated: tuple = (0.0, 0.0)
    mfrr: tuple = (0.0, 0.0)

    def __post_init__(self):
        for name in self.limits:
            if name not in LIMIT_NAMES:
                raise ValueError(f"border {self.a}-{self.b}: unknown limit {name!r} "
                                 f"(one of {', '.join(LIMIT_NAMES)})")
        for field in ("trm", "allocated", "mfrr"):
            v = getattr(self, field)
            if len(v) != 2 or not all(x >= 0 for x in v):
                raise ValueError(f"border {self.a}-{self.b}: {field} must be two values >= 0 MW")

    def ttc(self):
        """(a->b, b->a) TTC in MW."""
        return tuple(ttc_mw(**{k: v[i] for k, v in self.limits.items()}) for i in (0, 1))

    def ntc(self):
        t = self.ttc()
        return tuple(ntc_mw(t[i], self.trm[i]) for i in (0, 1))

    def free_for_afrr(self):
        """NTC - already allocated - used by mFRR (MARI first), MW per direction, >= 0."""
        n = self.ntc()
        return tuple(max(0.0, n[i] - self.allocated[i] - self.mfrr[i]) for i in (0, 1))


def free_capacity_kw(borders):
    """{(a, b): (free a->b kW, free b->a kW)} for host.market from BorderCapacity objects."""
    out = {}
    for bc in borders:
        ab, ba = bc.free_for_afrr()
        out[(bc.a, bc.b)] = (ab * 1000.0, ba * 1000.0)
    return out
