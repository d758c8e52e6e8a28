"""net() (a maximum flow, not an LP) nets exactly what the activation LP with no bids nets: the
same largest volume, every area inside the LP's optimal range (the LP's own value wherever that
range is one point), on random instances; and its answer depends on its arguments alone."""
import math
import random
import threading

import numpy as np
import pytest
from scipy.optimize import linprog

from host.market.netting import net
from host.market.optimiser import ActivationOptimiser

AREAS = ["A", "B", "C", "D", "E"]


def _instance(rng, n=None, scale=100_000.0):
    n = n or rng.randint(2, 5)
    areas = AREAS[:n]
    demands = {a: rng.choice([0.0, rng.uniform(-scale, scale), rng.uniform(-scale, scale)])
               for a in areas}

    def cap():
        return rng.choice([0.0, math.inf, rng.uniform(0, scale), rng.uniform(0, scale / 5)])
    borders = {}
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < 0.6:
                borders[(areas[i], areas[j])] = (cap(), cap())
    return demands, borders


def _optimal_ranges(demands, borders):
    """Independent LP (scipy, no ActivationOptimiser): the largest netted volume V*, and per
    area the range [min, max] of its netted up / down volume over all nettings reaching V*."""
    areas = list(dict.fromkeys(list(demands) + [x for e in borders for x in e]))
    n, ne = len(areas), len(borders)
    ix = {a: i for i, a in enumerate(areas)}
    d = np.array([demands.get(a, 0.0) for a in areas])
    a_eq = np.zeros((n, 2 * n + ne))
    for i in range(n):
        a_eq[i, i], a_eq[i, n + i] = -1.0, 1.0           # -ub + sb
    for j, (a, b) in enumerate(borders):
        a_eq[ix[a], 2 * n + j] -= 1.0                    # export from a
        a_eq[ix[b], 2 * n + j] += 1.0
    bounds = ([(0.0, max(v, 0.0)) for v in d] + [(0.0, max(-v, 0.0)) for v in d]
              + [(-ba, ab) for ab, ba in borders.values()])
    bounds = [(lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None)
              for lo, hi in bounds]
    c = np.zeros(2 * n + ne)
    c[:n] = -1.0
    r = linprog(c, A_eq=a_eq, b_eq=np.zeros(n), bounds=bounds, method="highs")
    assert r.status == 0
    v_star = -r.fun
    scale = max(1.0, float(np.abs(d).max()))
    a_ub = np.zeros((1, 2 * n + ne))
    a_ub[0, :n] = -1.0                                   # sum ub >= V* - tol
    b_ub = [-(v_star - 1e-9 * scale)]
    ranges = {}
    for k, a in enumerate(areas):
        for col, name in ((k, "up"), (n + k, "down")):
            lo_hi = []
            for sign in (1.0, -1.0):
                c = np.zeros(2 * n + ne)
                c[col] = sign
                r = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.zeros(n),
                            bounds=bounds, method="highs")
                assert r.status == 0
                lo_hi.append(sign * r.fun)
            ranges[(a, name)] = tuple(lo_hi)
    return v_star, ranges


def _check_against_linprog(demands, borders, res):
    """res (net()) nets as much as a fresh linprog-backend ActivationOptimiser, per area inside
    the optimal range (equal wherever the optimum pins it), and keeps every guarantee."""
    areas = list(dict.fromkeys(list(demands) + [x for e in borders for x in e]))
    ref = ActivationOptimiser(areas, list(borders), (), backend="linprog").solve(demands, borders)
    scale = max(1.0, max(abs(v) for v in demands.values()))
    tol = 1e-7 * scale
    v_star, ranges = _optimal_ranges(demands, borders)
    assert sum(res.netted_up_kw.values()) == pytest.approx(v_star, abs=tol)
    assert sum(res.netted_up_kw.values()) == pytest.approx(sum(ref.satisfied_up_kw.values()),
                                                           abs=tol)
    assert sum(res.netted_down_kw.values()) == pytest.approx(v_star, abs=tol)
    for a in areas:
        for name, got, theirs in (("up", res.netted_up_kw[a], ref.satisfied_up_kw[a]),
                                  ("down", res.netted_down_kw[a], ref.satisfied_down_kw[a])):
            lo, hi = ranges[(a, name)]
            assert lo - tol <= got <= hi + tol
            if hi - lo <= tol:                           # unique: both solvers agree
                assert got == pytest.approx(theirs, abs=tol)
        dem = demands.get(a, 0.0)
        after = res.after_kw[a]
        assert abs(after) <= abs(dem)                    # exact (bounds are clipped)
        assert after * dem >= 0.0                        # no sign flip
        imp = sum(-f if e[0] == a else f for e, f in res.exchange_kw.items() if a in e)
        assert imp == pytest.approx(res.netted_up_kw[a] - res.netted_down_kw[a], abs=tol)
    for e, (ab, ba) in borders.items():
        assert -ba <= res.exchange_kw[e] <= ab           # exact


def _same(r1, r2):
    return (r1.after_kw == r2.after_kw and r1.exchange_kw == r2.exchange_kw
            and r1.netted_up_kw == r2.netted_up_kw and r1.netted_down_kw == r2.netted_down_kw)


def test_nets_like_the_lp_on_random_instances():
    rng = random.Random(20260225)
    for _ in range(200):
        demands, borders = _instance(rng)
        _check_against_linprog(demands, borders, net(demands, borders))


def test_nets_like_the_lp_on_the_emulators_world():
    """The default world's topology (radial CE-PL-LT-LV-EE) with demands of its own size."""
    rng = random.Random(5)
    borders = {("CE", "PL"): (2e6, 2e6), ("LT", "PL"): (1.7e5, 1.5e5),
               ("LT", "LV"): (1e6, 1e6), ("LV", "EE"): (1e6, 1e6)}
    for _ in range(100):
        demands = {a: rng.choice([0.0, rng.uniform(-3e5, 3e5), rng.uniform(-3e6, 3e6)])
                   for a in ("CE", "PL", "LT", "LV", "EE")}
        _check_against_linprog(demands, borders, net(demands, borders))


def test_same_answer_in_any_call_order():
    """Three fixed topologies, 150 instances, solved interleaved in two different orders: every
    instance's result is bit-identical across the two, and nets like linprog."""
    rng = random.Random(7)
    topologies = [[("A", "B"), ("B", "C")],                              # radial
                  [("A", "B"), ("B", "C"), ("C", "D"), ("A", "D")],      # one loop
                  [(a, b) for i, a in enumerate(AREAS) for b in AREAS[i + 1:]]]  # mesh
    cases = []
    for k in range(150):
        borders = topologies[k % 3]
        areas = AREAS[:3 + k % 3]
        demands = {a: rng.choice([0.0, rng.uniform(-1e5, 1e5)]) for a in areas}
        caps = {e: (rng.choice([math.inf, rng.uniform(0, 5e4), 0.0]),
                    rng.choice([math.inf, rng.uniform(0, 5e4), 0.0])) for e in borders}
        cases.append((demands, caps))
    first = [net(d, c) for d, c in cases]
    order = list(range(len(cases)))
    rng.shuffle(order)
    second = {}
    for i in order:
        second[i] = net(*cases[i])
    for i, (d, c) in enumerate(cases):
        assert _same(first[i], second[i]), i
        if i % 3 == 0:
            _check_against_linprog(d, c, first[i])


def test_results_do_not_depend_on_call_history():
    """A degenerate instance (the upward demand can be served by B or by C): whatever came
    before, and however the solver's last basis leaned, the answer is the same."""
    inf = math.inf
    borders = {("A", "B"): (inf, inf), ("A", "C"): (inf, inf), ("B", "C"): (inf, inf)}
    probe = {"A": 100.0, "B": -60.0, "C": -60.0}
    histories = [
        [],
        [{"A": 50.0, "B": -80.0, "C": 0.0}] * 3,         # last basis: B gives
        [{"A": 50.0, "B": 0.0, "C": -80.0}] * 3,         # last basis: C gives
        [{"A": -70.0, "B": 20.0, "C": 90.0}, {"A": 5.0, "B": -1.0, "C": -9.0}],
        [{"A": 1e5, "B": -1e5, "C": -1e-3}, {"A": 0.0, "B": 0.0, "C": 0.0}],
    ]
    results = []
    for h in histories:
        for d in h:
            net(d, borders)
        results.append(net(probe, borders))
    for r in results[1:]:
        assert _same(r, results[0])
    r = results[0]
    assert sum(r.netted_down_kw.values()) == pytest.approx(100.0)
    assert r.after_kw["A"] == pytest.approx(0.0, abs=1e-9)
    # a whole random history on one topology, then the probe again: still the same
    rng = random.Random(3)
    for _ in range(200):
        net({a: rng.uniform(-200, 200) for a in "ABC"},
            {e: (rng.choice([inf, rng.uniform(0, 100)]), rng.choice([inf, 0.0])) for e in borders})
    assert _same(net(probe, borders), results[0])


def test_topologies_and_areas_outside_the_borders():
    inf = math.inf
    d = {"A": 100.0, "B": -60.0, "C": -30.0}
    r1 = net(d, {("A", "B"): (inf, inf), ("B", "C"): (inf, inf)})
    r2 = net(d, {("B", "C"): (inf, inf), ("A", "B"): (inf, inf)})     # other border order
    r3 = net(d, {("A", "B"): (inf, inf)})                              # C not connected
    assert r1.after_kw == r2.after_kw and r1.after_kw["A"] == pytest.approx(10.0)
    assert r3.after_kw["A"] == pytest.approx(40.0) and r3.after_kw["C"] == -30.0
    assert set(r3.exchange_kw) == {("A", "B")}
    # an area only in demands_kw and one only in borders are both part of the topology
    r4 = net({"A": 10.0, "X": -5.0}, {("A", "B"): (inf, inf)})
    assert r4.after_kw == {"A": 10.0, "X": -5.0, "B": 0.0}


def test_a_rejected_call_leaves_no_trace():
    borders = {("A", "B"): (50.0, 50.0)}
    good = net({"A": 100.0, "B": -60.0}, borders)
    with pytest.raises(ValueError, match=">= 0"):
        net({"A": 100.0, "B": -60.0}, {("A", "B"): (-5.0, 0.0)})
    with pytest.raises(ValueError, match="finite"):
        net({"A": math.nan, "B": -60.0}, borders)
    assert _same(net({"A": 100.0, "B": -60.0}, borders), good)
    assert good.after_kw["A"] == pytest.approx(50.0)


def test_concurrent_callers_get_their_own_answers():
    rng = random.Random(11)
    borders = {("A", "B"): (math.inf, 3e4), ("B", "C"): (2e4, math.inf), ("A", "C"): (1e4, 1e4)}
    cases = [{a: rng.uniform(-1e5, 1e5) for a in "ABC"} for _ in range(120)]
    expect = [net(d, borders) for d in cases]
    errors = []

    def worker(ix):
        for i in ix:
            if not _same(net(cases[i], borders), expect[i]):
                errors.append(i)
    threads = [threading.Thread(target=worker, args=(list(range(k, 120, 4))[::-1],))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
