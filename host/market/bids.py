"""Seeded aFRR energy bid generator: per area and direction, per 15-minute market time unit.

Distributions (every number is a configurable default):
- volume offered per area and direction: `volume_mw` (world file); default 100 MW, *assumed*
  (order of the Baltic aFRR needs; no primary source found).
- split into `n_bids` bids (default 10, *assumed*): each gets the minimum bid of 1 MW, the
  rest of the whole MW goes multinomially with flat Dirichlet(1, ..., 1) shares
  (minimum bid 1 MW: Baltic capacity market, docs/SOURCES.md; whole-MW steps are *assumed*).
- prices around a reference `ref_price_eur_mwh` (default 80 EUR/MWh, *assumed*: a typical
  day-ahead price level): upward = ref + m, downward = ref - m, with the markup
  m ~ lognormal(median `markup_median_eur_mwh` = 40, sigma `markup_sigma` = 0.8), *assumed*.
  Within an area upward bids are therefore always priced above downward bids (no crossing
  bids, see host.market.optimiser) as long as all areas share one ref price (the default;
  different refs can make bids of different areas cross); prices are clipped to the limits.
Every draw comes from numpy's PCG64 seeded by (seed, mtu, area index, direction): the same
seed gives the same bids for a market time unit whatever else was drawn before.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .optimiser import DOWN, PRICE_CAP_EUR_MWH, PRICE_FLOOR_EUR_MWH, UP, Bid

MIN_BID_MW = 1.0   # Baltic capacity market minimum bid (docs/SOURCES.md)


@dataclass(frozen=True)
class BidSpec:
    """Per-area bid generation parameters (see module docstring for sources)."""
    volume_mw: float = 100.0            # assumed
    n_bids: int = 10                    # assumed
    ref_price_eur_mwh: float = 80.0     # assumed
    markup_median_eur_mwh: float = 40.0  # assumed
    markup_sigma: float = 0.8           # assumed

    def __post_init__(self):
        if not self.volume_mw >= 0:
            raise ValueError(f"volume_mw must be >= 0, got {self.volume_mw!r}")
        if not (isinstance(self.n_bids, int) and self.n_bids >= 1):
            raise ValueError(f"n_bids must be an integer >= 1, got {self.n_bids!r}")
        if not self.markup_median_eur_mwh > 0:
            raise ValueError("markup_median_eur_mwh must be > 0")
        if not self.markup_sigma >= 0:
            raise ValueError("markup_sigma must be >= 0")


def _split(rng, total_mw, n):
    """Whole-MW volumes, each >= MIN_BID_MW, summing to floor(total_mw)."""
    whole = int(total_mw // MIN_BID_MW)
    n = min(n, whole)
    if n == 0:
        return []
    p = rng.dirichlet(np.ones(n))
    return list(MIN_BID_MW * (1 + rng.multinomial(whole - n, p)))


def generate_bids(specs, seed, mtu=0, price_cap=PRICE_CAP_EUR_MWH,
                  price_floor=PRICE_FLOOR_EUR_MWH):
    """specs: area -> BidSpec. Returns a list of Bid (kW, EUR/MWh), up then down per area."""
    bids = []
    for i, (area, spec) in enumerate(specs.items()):
        for direction in (UP, DOWN):
            rng = np.random.default_rng([int(seed), int(mtu), i, 0 if direction == UP else 1])
            vols = _split(rng, spec.volume_mw, spec.n_bids)
            mark = rng.lognormal(np.log(spec.markup_median_eur_mwh), spec.markup_sigma,
                                 len(vols))
            prices = spec.ref_price_eur_mwh + direction * mark
            for v, p in zip(vols, prices):
                p = float(min(max(p, price_floor), price_cap))
                bids.append(Bid(area, direction, float(v) * 1000.0, round(p, 2), bsp="gen"))
    return bids
