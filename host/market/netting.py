"""IGCC imbalance netting: the price-free special case of the activation optimiser (no bids)."""
from __future__ import annotations

from dataclasses import dataclass

from .optimiser import ActivationOptimiser


@dataclass
class NetResult:
    """Outcome of netting. kW throughout; demand + = upward (deficit), - = downward."""
    after_kw: dict          # area -> demand left after netting (same sign, |after| <= |before|)
    exchange_kw: dict       # (a, b) -> kW exchanged for netting, + = a to b
    netted_up_kw: dict      # area -> upward demand covered by netting (IGCC+ import), >= 0
    netted_down_kw: dict    # area -> downward demand covered by netting (IGCC- export), >= 0


def net(demands_kw: dict[str, float],
        borders: dict[tuple[str, str], tuple[float, float]]) -> NetResult:
    """Net opposite aFRR demands across borders within their free capacity.

    demands_kw: area -> kW, + = upward aFRR demand (area deficit), - = downward.
    borders: (a, b) -> (free capacity a->b kW, free capacity b->a kW); math.inf allowed.
    Maximises the netted volume: it is ActivationOptimiser with an empty bid list, where the
    only trades are upward demand served by downward demand (worth cap - floor per MWh).
    Guarantees (LP bounds, clipped exactly): |after| <= |before|, no sign flip, every border
    flow within its free capacity, and each area's balance holds.
    """
    areas = list(dict.fromkeys(list(demands_kw) + [x for e in borders for x in e]))
    res = ActivationOptimiser(areas, list(borders), ()).solve(demands_kw, borders)
    return NetResult(after_kw=res.after_kw, exchange_kw=res.exchange_kw,
                     netted_up_kw=res.satisfied_up_kw, netted_down_kw=res.satisfied_down_kw)
