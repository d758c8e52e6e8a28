"""market_cycle benchmark: one activation optimisation of a 30-area, 5000-bid instance.

Rows: linprog (HiGHS, cold each cycle), highspy warm-started from the previous cycle's basis,
and the floor: a plain sorted merit order of the uncongested case, all timed on the same cycles.
Consecutive cycles differ as they do in the emulator: demands follow a small random walk.
"""
import math
import time

import numpy as np

from host.market import ActivationOptimiser
from host.market.bids import BidSpec, generate_bids

AREAS = 30
BIDS = 5000
CYCLES = 40
SEED = 7


def instance(seed=SEED, n_areas=AREAS, n_bids=BIDS):
    rng = np.random.default_rng(seed)
    areas = [f"A{i:02d}" for i in range(n_areas)]
    per = n_bids // (2 * n_areas)
    extra = n_bids - per * 2 * n_areas
    specs = {}
    for i, a in enumerate(areas):
        n = per + (1 if 2 * i < extra else 0)
        specs[a] = BidSpec(volume_mw=float(rng.integers(100, 400)), n_bids=n)
    bids = generate_bids(specs, seed)
    bids = bids[:n_bids]
    borders = {}
    for i in range(n_areas):             # a ring plus random chords: meshed, congestable
        borders[(areas[i], areas[(i + 1) % n_areas])] = None
    for _ in range(n_areas // 2):
        i, j = rng.choice(n_areas, 2, replace=False)
        if (areas[j], areas[i]) not in borders:
            borders[(areas[i], areas[j])] = None
    caps = {e: (float(rng.integers(20, 300)) * 1e3, float(rng.integers(20, 300)) * 1e3)
            for e in borders}
    return areas, bids, caps, rng


def demand_walk(areas, rng, cycles):
    d = rng.normal(0, 80_000, len(areas))            # kW
    out = []
    for _ in range(cycles):
        d = d + rng.normal(0, 5_000, len(areas))     # 4 s later: a small change
        out.append({a: float(v) for a, v in zip(areas, d)})
    return out


def bid_arrays(bids):
    return (np.array([b.price_eur_mwh for b in bids]), np.array([b.volume_kw for b in bids]),
            np.array([b.direction > 0 for b in bids]))


def merit_order_floor(arrays, demands):
    """Uncongested single merit order, vectorised: sort, cumulative volume, marginal price.
    The bid arrays are built once, as the LP's matrix is."""
    price, vol, up = arrays
    total = sum(demands.values())
    sel = up if total > 0 else ~up
    p, v = price[sel], vol[sel]
    order = np.argsort(p if total > 0 else -p, kind="stable")
    cum = np.cumsum(v[order])
    k = int(np.searchsorted(cum, abs(total)))
    marginal = p[order[min(k, len(order) - 1)]] if len(order) else math.nan
    act = np.zeros(len(p))
    act[order] = np.clip(abs(total) - (cum - v[order]), 0, v[order])
    return marginal, act


def _time(fn, items):
    t = []
    out = None
    for it in items:
        t0 = time.perf_counter()
        out = fn(it)
        t.append(time.perf_counter() - t0)
    return 1000 * float(np.median(t)), out


def run():
    areas, bids, caps, rng = instance()
    demands = demand_walk(areas, rng, CYCLES)
    cold = ActivationOptimiser(areas, list(caps), bids, backend="linprog")
    warm = ActivationOptimiser(areas, list(caps), bids, backend="highspy")
    warm.solve(demands[0], caps)                      # first solve: the cold start
    ms_lp, r_lp = _time(lambda d: cold.solve(d, caps), demands)
    ms_warm, r_warm = _time(lambda d: warm.solve(d, caps), demands)
    arrays = bid_arrays(bids)
    ms_floor, _ = _time(lambda d: merit_order_floor(arrays, d), demands)
    ms_hcold, _ = _time(lambda d: ActivationOptimiser(areas, list(caps), bids,
                                                      backend="highspy").solve(d, caps),
                        demands[:10])
    assert abs(r_lp.objective - r_warm.objective) <= 1e-6 * max(1.0, abs(r_lp.objective))
    return [{"bench": "market_cycle", "areas": len(areas), "bids": len(bids),
             "borders": len(caps), "cycles": len(demands),
             "ms_per_cycle": round(ms_lp, 3),
             "warm_highspy_ms_per_cycle": round(ms_warm, 3),
             "cold_highspy_ms_per_cycle_incl_build": round(ms_hcold, 3),
             "merit_order_ms_per_cycle": round(ms_floor, 3),
             "ratio_to_floor": round(ms_lp / ms_floor, 1),
             "warm_ratio_to_floor": round(ms_warm / ms_floor, 1),
             "target_ms": 40.0}]


if __name__ == "__main__":
    import json
    for row in run():
        print(json.dumps(row))
