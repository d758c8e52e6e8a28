"""IGCC imbalance netting: the price-free special case of the activation optimiser (no bids).

The emulator's TSO LFC calls net() every 4 s cycle with the same areas and borders, so the LP is
built once per topology (the tuple of areas and the tuple of border keys) and kept in a small
LRU cache: each call changes only the bounds that moved (demands, free capacities) on the kept
HiGHS model. The basis is NOT carried over (warm_start=False): netting optima are often not
unique (which of two surplus areas gives), and a warm basis would let the previous cycles pick
among them. Starting each solve from scratch makes the result a function of this call's
arguments alone, identical to a freshly built optimiser; on these tiny LPs (a handful of rows)
presolve costs more than it saves, so it is off.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from .optimiser import ActivationOptimiser

CACHE_SIZE = 16     # topologies kept; the emulator uses one, tests and tools a few
_HIGHS_OPTIONS = {"presolve": "off"}
_cache: OrderedDict = OrderedDict()     # (areas, border keys) -> ActivationOptimiser
_lock = threading.Lock()                # one solve at a time: a cached optimiser is stateful


@dataclass
class NetResult:
    """Outcome of netting. kW throughout; demand + = upward (deficit), - = downward."""
    after_kw: dict          # area -> demand left after netting (same sign, |after| <= |before|)
    exchange_kw: dict       # (a, b) -> kW exchanged for netting, + = a to b
    netted_up_kw: dict      # area -> upward demand covered by netting (IGCC+ import), >= 0
    netted_down_kw: dict    # area -> downward demand covered by netting (IGCC- export), >= 0


def optimiser_for(areas, border_keys) -> ActivationOptimiser:
    """A fresh netting optimiser (no bids) for this topology, as net() caches it."""
    return ActivationOptimiser(list(areas), list(border_keys), (), backend="highspy",
                               warm_start=False, highs_options=_HIGHS_OPTIONS)


def clear_cache():
    """Drop every cached optimiser (tests; frees the HiGHS instances)."""
    with _lock:
        _cache.clear()


def cache_info():
    """(entries, CACHE_SIZE)."""
    return len(_cache), CACHE_SIZE


def net(demands_kw: dict[str, float],
        borders: dict[tuple[str, str], tuple[float, float]]) -> NetResult:
    """Net opposite aFRR demands across borders within their free capacity.

    demands_kw: area -> kW, + = upward aFRR demand (area deficit), - = downward.
    borders: (a, b) -> (free capacity a->b kW, free capacity b->a kW); math.inf allowed.
    Maximises the netted volume: it is ActivationOptimiser with an empty bid list, where the
    only trades are upward demand served by downward demand (worth cap - floor per MWh).
    Guarantees (LP bounds, clipped exactly): |after| <= |before|, no sign flip, every border
    flow within its free capacity, and each area's balance holds. The result depends on the
    arguments only (not on earlier calls): see the module docstring.
    """
    areas = tuple(dict.fromkeys(list(demands_kw) + [x for e in borders for x in e]))
    key = (areas, tuple(borders))
    with _lock:
        opt = _cache.get(key)
        if opt is None:
            opt = optimiser_for(areas, key[1])
            _cache[key] = opt
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        else:
            _cache.move_to_end(key)
        try:
            d, ub, sb, f = opt.solve_volumes(demands_kw, borders)
        except Exception:
            _cache.pop(key, None)   # never keep an optimiser a failed call may have left half-set
            raise
    # the same values as ClearingResult.after_kw / exchange_kw / satisfied_up/down_kw
    after = (d - (ub - sb)).tolist()
    ub, sb, f = ub.tolist(), sb.tolist(), f.tolist()
    return NetResult(after_kw=dict(zip(areas, after)),
                     exchange_kw=dict(zip(key[1], f)),
                     netted_up_kw=dict(zip(areas, ub)),
                     netted_down_kw=dict(zip(areas, sb)))
