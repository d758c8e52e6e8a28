"""market_cycle benchmark: the activation optimisation of 30 areas and 5000 bids, CPU time.

cold_cpu_ms: the model built from the bids and solved once (a new ActivationOptimiser, highspy:
every bid read and checked, the LP solved over its working set and every bid priced);
warm_cpu_ms: a re-solve of the kept model for the next cycle, warm-started from the last basis
(what host.market.run does every 4 s); both medians over the cycles, time.process_time.
growth_exponent_bids: the slope of log(cold CPU time) over log(bids) from 1 000 to 50 000
bids (least squares, five sizes, each point the median of GROWTH_CYCLES cold cycles).
Beside them, on the same cycles: linprog (scipy, HiGHS with its presolve, cold) as the
baseline, and the floor: a plain sorted merit order of the uncongested case. Consecutive
cycles differ as they do in the emulator: demands follow a small random walk.
time.process_time counts every thread of the process: CPU that a library spends in helper
threads (OpenBLAS spins its workers after a threaded call) is part of the cycle's cost.
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
        # each bid is at least 1 MW: an area offers at least n MW, so it gets exactly n bids
        specs[a] = BidSpec(volume_mw=float(max(rng.integers(100, 400), n)), n_bids=n)
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


GROWTH_BIDS = (1000, 2500, 5000, 15000, 50000)
GROWTH_CYCLES = 9     # cold cycles per size; the median damps another process's cache traffic


def _time(fn, items):
    """Median CPU ms of fn over items, and the last result."""
    t = []
    out = None
    for it in items:
        t0 = time.process_time()
        out = fn(it)
        t.append(time.process_time() - t0)
    return 1000 * float(np.median(t)), out


def _cold(areas, bids, caps, demands):
    return _time(lambda d: ActivationOptimiser(areas, list(caps), bids,
                                               backend="highspy").solve(d, caps), demands)


def growth_exponent(sizes=GROWTH_BIDS, cycles=GROWTH_CYCLES):
    """Slope of log(cold CPU ms) against log(bids), and the (bids, ms) points."""
    pts = []
    for n in sizes:
        areas, bids, caps, rng = instance(n_bids=n)
        assert len(bids) == n, (len(bids), n)
        ms, _ = _cold(areas, bids, caps, demand_walk(areas, rng, cycles))
        pts.append((n, ms))
    x = np.log([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0]), pts


def run():
    from bench.target import check

    areas, bids, caps, rng = instance()
    assert len(bids) == BIDS
    demands = demand_walk(areas, rng, CYCLES)
    ms_cold, r_cold = _cold(areas, bids, caps, demands[-10:])  # ends on the last cycle too
    warm = ActivationOptimiser(areas, list(caps), bids, backend="highspy")
    warm.solve(demands[0], caps)                      # first solve: the cold start
    ms_warm, r_warm = _time(lambda d: warm.solve(d, caps), demands[1:])
    lp = ActivationOptimiser(areas, list(caps), bids, backend="linprog")
    ms_lp, r_lp = _time(lambda d: lp.solve(d, caps), demands[1:])
    # same optimum whichever way it was found (linprog: HiGHS with presolve)
    for r in (r_cold, r_warm):
        assert abs(r_lp.objective - r.objective) <= 1e-7 * max(1.0, abs(r_lp.objective))
    arrays = bid_arrays(bids)
    ms_floor, _ = _time(lambda d: merit_order_floor(arrays, d), demands)
    expo, pts = growth_exponent()
    row = {"bench": "market_cycle", "areas": len(areas), "bids": len(bids),
           "borders": len(caps), "cycles": len(demands), "clock": "process_time",
           "cold_cpu_ms": round(ms_cold, 3), "warm_cpu_ms": round(ms_warm, 3),
           "growth_exponent_bids": round(expo, 3),
           "growth_points_bids_cold_ms": [[n, round(ms, 3)] for n, ms in pts],
           "baseline_linprog_cpu_ms": round(ms_lp, 3),
           "merit_order_cpu_ms": round(ms_floor, 3),
           "warm_ratio_to_floor": round(ms_warm / ms_floor, 1)}
    check(row, "cold_cpu_ms", "<=", 15.0)
    check(row, "warm_cpu_ms", "<=", 3.0)
    check(row, "growth_exponent_bids", "<=", 1.0)
    return [row]


if __name__ == "__main__":
    import json
    for row in run():
        print(json.dumps(row))
