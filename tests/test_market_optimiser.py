"""Activation optimiser against an independent brute force, plus price/region properties."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.market import DOWN, UP, ActivationOptimiser, Bid, clear, net
from host.market.optimiser import EPS_EUR_MWH as EPS

AREAS = ["A", "B", "C", "D"]
PTOL = 1e-4   # EUR/MWh
VTOL = 1e-5   # kW


# ---------------------------------------------------------------- independent brute force
def _merit_clear(sellers, buyers, forced):
    """Single-node welfare clearing. sellers/buyers: [(cost_or_value, volume)]; forced > 0 is
    an import that must be absorbed, < 0 an export that must be supplied. Returns cost or None."""
    sellers = sorted(sellers)
    buyers = sorted(buyers, reverse=True)
    if forced > 0:
        sellers = [(-math.inf, forced)] + sellers
    elif forced < 0:
        buyers = [(math.inf, -forced)] + buyers
    cost, i, j = 0.0, 0, 0
    s_left = [v for _, v in sellers]
    b_left = [v for _, v in buyers]
    while i < len(sellers) and j < len(buyers):
        (c, _), (w, _) = sellers[i], buyers[j]
        if not w > c:
            break
        q = min(s_left[i], b_left[j])
        cost += (0.0 if math.isinf(c) else c * q) - (0.0 if math.isinf(w) else w * q)
        s_left[i] -= q
        b_left[j] -= q
        if s_left[i] <= 1e-12:
            i += 1
        if b_left[j] <= 1e-12:
            j += 1
    # a forced quantity not matched means this congestion pattern is infeasible
    if forced > 0 and s_left[0] > 1e-9:
        return None, None
    if forced < 0 and b_left[0] > 1e-9:
        return None, None
    return cost, (sellers, s_left, buyers, b_left)


def brute_force(areas, tree, caps, demands, bids, p_up, p_down):
    """Enumerate every congestion pattern of a tree network (each border free, full a->b or
    full b->a); clear each price region by a sorted merit order; route the region's internal
    flows on the tree and keep the pattern only if they fit. Returns the least cost."""
    best = math.inf
    for pattern in itertools.product((0, 1, -1), repeat=len(tree)):
        fixed = {}
        ok = True
        for e, s in zip(tree, pattern):
            if s == 1:
                ok &= math.isfinite(caps[e][0])
                fixed[e] = caps[e][0]
            elif s == -1:
                ok &= math.isfinite(caps[e][1])
                fixed[e] = -caps[e][1]
        if not ok:
            continue
        parent = {a: a for a in areas}

        def find(a):
            while parent[a] != a:
                a = parent[a]
            return a
        for e, s in zip(tree, pattern):
            if s == 0:
                parent[find(e[0])] = find(e[1])
        regions = {}
        for a in areas:
            regions.setdefault(find(a), []).append(a)
        total = 0.0
        inj = {a: 0.0 for a in areas}   # per-area net injection from the merit order
        for members in regions.values():
            forced = sum(f if e[1] in members else -f
                         for e, f in fixed.items() if (e[0] in members) != (e[1] in members))
            sellers, buyers, tags_s, tags_b = [], [], [], []
            for a in members:
                d = demands[a]
                if d > 0:
                    buyers.append((p_up[a], d))
                    tags_b.append(a)
                if d < 0:
                    sellers.append((p_down[a], -d))
                    tags_s.append(a)
            for b in bids:
                if b.area in members:
                    if b.direction == UP:
                        sellers.append((b.price_eur_mwh + EPS, b.volume_kw))
                        tags_s.append(b.area)
                    else:
                        buyers.append((b.price_eur_mwh - EPS, b.volume_kw))
                        tags_b.append(b.area)
            cost, detail = _merit_clear(sellers, buyers, forced)
            if cost is None:
                ok = False
                break
            total += cost
            s_sorted, s_left, b_sorted, b_left = detail
            # recover per-area injections (prices are distinct, so the sort order is unique)
            so = sorted(range(len(sellers)), key=lambda k: sellers[k])
            bo = sorted(range(len(buyers)), key=lambda k: buyers[k], reverse=True)
            off_s = 1 if forced > 0 else 0
            off_b = 1 if forced < 0 else 0
            for rank, k in enumerate(so):
                inj[tags_s[k]] += sellers[k][1] - s_left[rank + off_s]
            for rank, k in enumerate(bo):
                inj[tags_b[k]] -= buyers[k][1] - b_left[rank + off_b]
        if not ok:
            continue
        # route flows on the tree (leaf first): flow on (a, b) = surplus of a's side
        if not _tree_flows_fit(areas, tree, caps, fixed, inj):
            continue
        best = min(best, total)
    return best


def _tree_flows_fit(areas, tree, caps, fixed, inj):
    inj = dict(inj)
    for e, f in fixed.items():      # congested borders: their flow is part of the injections
        inj[e[0]] -= f
        inj[e[1]] += f
    edges = [e for e in tree if e not in fixed]
    adj = {a: [] for a in areas}
    for e in edges:
        adj[e[0]].append(e)
        adj[e[1]].append(e)
    # repeatedly peel leaves of the forest of free borders
    remaining = set(edges)
    while remaining:
        for a in areas:
            inc = [e for e in adj[a] if e in remaining]
            if len(inc) == 1:
                e = inc[0]
                f = inj[a] if e[0] == a else -inj[a]   # + = e[0] to e[1]
                if not (-caps[e][1] - 1e-6 <= f <= caps[e][0] + 1e-6):
                    return False
                inj[e[0]] -= f
                inj[e[1]] += f
                remaining.discard(e)
                break
        else:
            raise AssertionError("tree expected")
    return all(abs(v) < 1e-6 for v in inj.values())


# ---------------------------------------------------------------- instances
CAP = st.one_of(st.just(0.0), st.integers(1, 300).map(float), st.just(math.inf))


@st.composite
def tree_instances(draw, crossing=True):
    n = draw(st.integers(1, 4))
    areas = AREAS[:n]
    tree = [(areas[draw(st.integers(0, i - 1))], areas[i]) for i in range(1, n)]
    caps = {e: (draw(CAP), draw(CAP)) for e in tree}
    demands = {a: float(draw(st.integers(-400, 400))) for a in areas}
    nbids = draw(st.integers(0, 20))
    # distinct prices everywhere so that the optimum is unique (the brute force relies on it)
    prices = draw(st.lists(st.integers(-2000, 2000), min_size=nbids + 2 * n,
                           max_size=nbids + 2 * n, unique=True))
    bids = []
    for k in range(nbids):
        direction = draw(st.sampled_from([UP, DOWN]))
        price = float(prices[k])
        if not crossing:   # downward bids strictly below every upward bid
            price = float(abs(prices[k]) + 1) * (1 if direction == UP else -1)
        bids.append(Bid(draw(st.sampled_from(areas)), direction,
                        float(draw(st.integers(0, 200))), price))
    p_up = {a: 5000.0 + prices[nbids + i] for i, a in enumerate(areas)}
    p_down = {a: -5000.0 + prices[nbids + n + i] for i, a in enumerate(areas)}
    return areas, tree, caps, demands, bids, p_up, p_down


def _solve(areas, tree, caps, demands, bids, p_up, p_down, backend="linprog"):
    dp = {a: (p_up[a], p_down[a]) for a in areas}
    opt = ActivationOptimiser(areas, tree, bids, demand_prices=dp, backend=backend)
    return opt.solve(demands, caps)


def _check_feasible(areas, tree, caps, demands, bids, r):
    for a in areas:
        inj = sum(b.direction * x for b, x in zip(bids, r.activated_kw) if b.area == a)
        inj -= sum(f if e[0] == a else -f for e, f in r.exchange_kw.items() if a in e)
        assert abs(inj - r.satisfied_kw[a]) < VTOL, "area balance"
        assert abs(r.satisfied_kw[a]) <= abs(demands[a]) + VTOL
        assert r.satisfied_kw[a] * demands[a] >= -VTOL
    for e in tree:
        assert -caps[e][1] <= r.exchange_kw[e] <= caps[e][0], "capacity"
    for b, x in zip(bids, r.activated_kw):
        assert 0 <= x <= b.volume_kw


def _check_prices(areas, tree, caps, bids, r):
    lam = r.cbmp_eur_mwh
    for b, x in zip(bids, r.activated_kw):
        # up bid cost p+eps; down bid value p-eps; compared with its area's price
        c = b.price_eur_mwh + EPS * b.direction
        p = lam[b.area]
        cheap = c < p - PTOL if b.direction == UP else c > p + PTOL
        dear = c > p + PTOL if b.direction == UP else c < p - PTOL
        if cheap:
            assert x > b.volume_kw - VTOL, "in-the-money bid fully activated"
        elif dear:
            assert x < VTOL, "out-of-the-money bid not activated"
        if VTOL < x < b.volume_kw - VTOL:
            assert abs(p - c) < PTOL, "partly activated bid sets the CBMP"
    for e in tree:
        a, b = e
        f, (ab, ba) = r.exchange_kw[e], caps[e]
        if -ba + VTOL < f < ab - VTOL:
            assert abs(lam[a] - lam[b]) < PTOL, "uncongested border, one price"
        if lam[b] > lam[a] + PTOL:
            assert f > ab - VTOL, "price difference only across a congested border"
        if lam[a] > lam[b] + PTOL:
            assert f < -ba + VTOL
    for reg in r.regions:
        assert max(lam[a] for a in reg) - min(lam[a] for a in reg) < PTOL


@given(tree_instances())
def test_cost_equals_brute_force_and_solution_is_consistent(inst):
    areas, tree, caps, demands, bids, p_up, p_down = inst
    r = _solve(*inst)
    best = brute_force(areas, tree, caps, demands, bids, p_up, p_down)
    assert r.objective == pytest.approx(best, rel=1e-7, abs=1e-3)
    _check_feasible(areas, tree, caps, demands, bids, r)
    _check_prices(areas, tree, caps, bids, r)


@given(tree_instances())
def test_highspy_warm_backend_agrees_with_linprog(inst):
    areas, tree, caps, demands, bids, p_up, p_down = inst
    a = _solve(*inst)
    dp = {x: (p_up[x], p_down[x]) for x in areas}
    opt = ActivationOptimiser(areas, tree, bids, demand_prices=dp, backend="highspy")
    opt.solve({x: -v for x, v in demands.items()}, caps)     # a different cycle first
    b = opt.solve(demands, caps)                             # warm-started from its basis
    assert b.objective == pytest.approx(a.objective, rel=1e-7, abs=1e-3)
    _check_feasible(areas, tree, caps, demands, bids, b)
    _check_prices(areas, tree, caps, bids, b)


@given(tree_instances(crossing=False))
def test_no_counter_activation_within_a_price_region(inst):
    areas, tree, caps, demands, bids, p_up, p_down = inst
    r = _solve(*inst)
    for reg in r.regions:
        up = sum(x for b, x in zip(bids, r.activated_kw) if b.area in reg and b.direction == UP)
        dn = sum(x for b, x in zip(bids, r.activated_kw) if b.area in reg and b.direction == DOWN)
        assert up < VTOL or dn < VTOL


@given(tree_instances(crossing=False))
def test_netting_comes_first_same_volume_as_net(inst):
    areas, tree, caps, demands, bids, p_up, p_down = inst
    r = clear(demands, bids, caps)   # default limits, as the market runs
    n = net(demands, caps)
    assert r.netted_total_kw() == pytest.approx(sum(n.netted_up_kw.values()), abs=1e-4)


@given(tree_instances())
def test_zero_capacity_each_area_clears_alone(inst):
    areas, tree, caps, demands, bids, p_up, p_down = inst
    zero = {e: (0.0, 0.0) for e in tree}
    r = _solve(areas, tree, zero, demands, bids, p_up, p_down)
    total = 0.0
    for a in areas:
        mine = [b for b in bids if b.area == a]
        alone = ActivationOptimiser([a], [], mine, demand_prices={a: (p_up[a], p_down[a])})
        ra = alone.solve({a: demands[a]}, {})
        total += ra.objective
        assert ra.satisfied_kw[a] == pytest.approx(r.satisfied_kw[a], abs=VTOL)
        got = [x for b, x in zip(bids, r.activated_kw) if b.area == a]
        np.testing.assert_allclose(got, ra.activated_kw, atol=VTOL)
    assert r.objective == pytest.approx(total, rel=1e-7, abs=1e-3)
    assert all(abs(f) == 0 for f in r.exchange_kw.values())


@given(tree_instances())
def test_infinite_capacity_one_price(inst):
    areas, tree, caps, demands, bids, p_up, p_down = inst
    inf = {e: (math.inf, math.inf) for e in tree}
    r = _solve(areas, tree, inf, demands, bids, p_up, p_down)
    assert len(r.regions) == 1
    prices = list(r.cbmp_eur_mwh.values())
    assert max(prices) - min(prices) < PTOL
    # and the cost is one merit order of everything pooled (no pattern can be congested)
    pooled = brute_force(areas, tree, inf, demands, bids, p_up, p_down)
    assert r.objective == pytest.approx(pooled, rel=1e-7, abs=1e-3)


def test_hand_case_congestion_splits_price():
    # A needs 100 up; its own bid costs 90; B has a 20 EUR bid but only 40 kW can come over
    bids = [Bid("A", UP, 200, 90.0), Bid("B", UP, 200, 20.0)]
    r = clear({"A": 100.0, "B": 0.0}, bids, {("A", "B"): (0.0, 40.0)})
    np.testing.assert_allclose(r.activated_kw, [60.0, 40.0], atol=VTOL)
    assert r.activation_cost_eur_h == pytest.approx((60 * 90.0 + 40 * 20.0) / 1000.0)  # 6.2
    assert r.cbmp_eur_mwh["A"] == pytest.approx(90.0, abs=0.01)
    assert r.cbmp_eur_mwh["B"] == pytest.approx(20.0, abs=0.01)
    assert len(r.regions) == 2
    # with room on the border, one price: the cheap bid alone serves A
    r = clear({"A": 100.0, "B": 0.0}, bids, {("A", "B"): (0.0, 400.0)})
    np.testing.assert_allclose(r.activated_kw, [0.0, 100.0], atol=VTOL)
    assert r.activation_cost_eur_h == pytest.approx(100 * 20.0 / 1000.0)
    assert r.cbmp_eur_mwh["A"] == pytest.approx(20.0, abs=0.01) == r.cbmp_eur_mwh["B"]


def test_not_enough_bids_price_hits_the_cap():
    r = clear({"A": 100.0}, [Bid("A", UP, 30, 50.0)], {})
    assert r.after_kw["A"] == pytest.approx(70.0)
    assert r.cbmp_eur_mwh["A"] == pytest.approx(15_000.0)
    r = clear({"A": -100.0}, [Bid("A", DOWN, 30, -50.0)], {})
    assert r.cbmp_eur_mwh["A"] == pytest.approx(-15_000.0)
    # a downward bid at -50 EUR/MWh is paid by the TSO: 30 kW cost it 1.5 EUR/h
    assert r.activation_cost_eur_h == pytest.approx(30 * 50.0 / 1000.0)


@pytest.mark.parametrize("bad, msg", [
    (Bid("A", 2, 10, 1.0), "direction"),
    (Bid("A", UP, -1, 1.0), "volume_kw"),
    (Bid("A", UP, 1, 20_000.0), "outside"),
    (Bid("Z", UP, 1, 1.0), "unknown area"),
    (Bid("A", "1", 1, 1.0), "direction"),            # text, though numpy would read it as 1.0
    (Bid("A", UP, float("nan"), 1.0), "volume_kw"),
    (Bid("A", UP, float("inf"), 1.0), "volume_kw"),
    (Bid("A", UP, "5", 1.0), "volume_kw"),
    (Bid("A", UP, 1, float("nan")), "outside"),
])
def test_bad_bid_is_a_clear_error(bad, msg):
    with pytest.raises(ValueError, match=msg):
        ActivationOptimiser(["A"], [], [bad])
    # among good bids, the bad one is named by its index
    good = Bid("A", UP, 1000.0, 50.0)
    with pytest.raises(ValueError, match="bid 2: .*" + msg):
        ActivationOptimiser(["A"], [], [good, good, bad, good])


@pytest.mark.parametrize("backend", ["linprog", "highspy"])
def test_degenerate_optimum_prices_the_marginal_activated_bid(backend):
    # demand equal to a cumulative bid volume: the dual is anywhere in [last, next] bid price
    # (a solver returned 0 and the price floor here); the CBMP is the marginal activated bid's
    bids = [Bid("A", UP, 50, 10.0), Bid("A", UP, 50, 20.0), Bid("A", UP, 50, 30.0),
            Bid("A", DOWN, 50, 5.0), Bid("A", DOWN, 50, -3.0)]
    caps = {("A", "B"): (0.0, 0.0)}
    for d, want in ((100.0, 20.0 + EPS), (150.0, 30.0 + EPS), (50.0, 10.0 + EPS),
                    (-50.0, 5.0 - EPS), (-100.0, -3.0 - EPS)):
        r = clear({"A": d, "B": 0.0}, bids, caps, backend=backend)
        assert r.cbmp_eur_mwh["A"] == pytest.approx(want, abs=1e-9), d
    # not degenerate: a partly activated bid sets the price as before
    r = clear({"A": 99.0, "B": 0.0}, bids, caps, backend=backend)
    assert r.cbmp_eur_mwh["A"] == pytest.approx(20.0 + EPS, abs=1e-6)
    # uncongested neighbours share the marginal price of the region
    r = clear({"A": 100.0, "B": 0.0}, bids, {("A", "B"): (100.0, 100.0)}, backend=backend)
    assert r.cbmp_eur_mwh["A"] == pytest.approx(20.0 + EPS) == r.cbmp_eur_mwh["B"]


@pytest.mark.parametrize("backend", ["linprog", "highspy"])
def test_degenerate_region_importing_at_the_limit_is_priced_with_its_exporter(backend):
    # B's 2 kW of downward demand go to A (limit 2), A passes them on to C (limit 2) where
    # demand is worth more (5003 vs 5002), so A's own 1 kW stays unserved; C's one bid
    # (124 kW at -1) is fully used. C's price is degenerate, but not -1 + eps: C imports at
    # the limit from A, so C >= A, and A's unserved demand holds A >= 5002; C's fully
    # served demand holds C <= 5003
    bids = [Bid("C", UP, 124.0, -1.0)]
    caps = {("A", "B"): (0.0, 2.0), ("A", "C"): (2.0, 0.0)}
    dp = {"A": (5002.0, -4996.0), "B": (4998.0, -5004.0), "C": (5003.0, -4995.0)}
    r = clear({"A": 1.0, "B": -2.0, "C": 126.0}, bids, caps, demand_prices=dp,
              backend=backend)
    np.testing.assert_allclose(r.activated_kw, [124.0], atol=VTOL)
    assert r.exchange_kw == pytest.approx({("A", "B"): -2.0, ("A", "C"): 2.0}, abs=VTOL)
    assert r.after_kw == pytest.approx({"A": 1.0, "B": 0.0, "C": 0.0}, abs=VTOL)
    lam = r.cbmp_eur_mwh
    assert 5002.0 - PTOL <= lam["A"] <= lam["C"] + PTOL <= 5003.0 + 2 * PTOL
    _check_prices(["A", "B", "C"], list(caps), caps, bids, r)


def test_constraint_matrix_is_the_triplet_matrix():
    # the column-wise matrix built by hand equals scipy's conversion of (row, col, value)
    # triplets: each bid in its area's row with its direction, ub -1 and sb +1 in their area's
    # row, a border flow -1 in its first area's row and +1 in its second's
    import scipy.sparse as sp
    areas = ["A", "B", "C", "D"]
    borders = [("C", "A"), ("A", "B"), ("D", "B"), ("B", "C")]     # first area above and below
    bids = [Bid(a, d, 1000.0 * (k + 1), 10.0 * d * (k % 5)) for k, (a, d) in
            enumerate([("B", UP), ("A", DOWN), ("D", UP), ("B", DOWN), ("C", UP)])]
    o = ActivationOptimiser(areas, borders, bids)
    n, nb, ne = len(areas), len(bids), len(borders)
    ix = {a: i for i, a in enumerate(areas)}
    trip = [(ix[b.area], k, float(b.direction)) for k, b in enumerate(bids)]
    trip += [(i, nb + i, -1.0) for i in range(n)] + [(i, nb + n + i, 1.0) for i in range(n)]
    for j, (a, b) in enumerate(borders):
        trip += [(ix[a], nb + 2 * n + j, -1.0), (ix[b], nb + 2 * n + j, 1.0)]
    r, c, v = zip(*trip)
    ref = sp.csc_matrix((v, (r, c)), shape=(n, nb + 2 * n + ne))
    assert (o.A != ref).nnz == 0
    assert o.A.indptr.tolist() == ref.indptr.tolist()
    assert o.A.indices.tolist() == ref.indices.tolist()      # same order: HiGHS sees one model


# ---------------------------------------------------------------- highspy's working set of bids
@given(tree_instances(), st.lists(st.integers(0, 3), min_size=20, max_size=20))
def test_working_set_of_one_bid_reaches_the_whole_lps_optimum(inst, vol_pick):
    # one bid per area and direction to start with: pricing the others must bring in every
    # bid the optimum needs, over cycles whose demands and bid volumes change (warm start)
    areas, tree, caps, demands, bids, p_up, p_down = inst
    dp = {a: (p_up[a], p_down[a]) for a in areas}
    opt = ActivationOptimiser(areas, tree, bids, demand_prices=dp, backend="highspy",
                              working_set=1)
    ref = ActivationOptimiser(areas, tree, bids, demand_prices=dp, backend="linprog")
    full = np.array([b.volume_kw for b in bids])
    # cycle 2 halves, zeroes or keeps each bid's volume (a zero-volume bid needs no pricing)
    vols = [None, None, full * np.array([(1.0, 0.5, 0.0, 1.0)[k] for k in vol_pick[:len(bids)]])]
    for dem, vol in zip(({a: -v for a, v in demands.items()}, demands, demands), vols):
        r, want = opt.solve(dem, caps, vol), ref.solve(dem, caps, vol)
        assert r.objective == pytest.approx(want.objective, rel=1e-7, abs=1e-3)
        _check_feasible(areas, tree, caps, dem, bids if vol is None else
                        [Bid(b.area, b.direction, v, b.price_eur_mwh) for b, v in zip(bids, vol)],
                        r)
    r = opt.solve(demands, caps)
    assert r.objective == pytest.approx(
        brute_force(areas, tree, caps, demands, bids, p_up, p_down), rel=1e-7, abs=1e-3)
    _check_prices(areas, tree, caps, bids, r)


def _many_bids(n_areas=12, per_side=150, seed=3):
    """A meshed system with many bids per area and direction (prices all distinct)."""
    rng = np.random.default_rng(seed)
    areas = [f"A{i}" for i in range(n_areas)]
    borders = [(areas[i], areas[(i + 1) % n_areas]) for i in range(n_areas)]
    borders += [(areas[i], areas[i + n_areas // 2]) for i in range(0, n_areas // 2, 2)]
    caps = {e: (float(rng.integers(0, 60_000)), float(rng.integers(0, 60_000))) for e in borders}
    prices = rng.permutation(4 * n_areas * per_side)[:2 * n_areas * per_side] / 100.0
    bids, k = [], 0
    for a in areas:
        for direction in (UP, DOWN):
            for _ in range(per_side):
                p = 80.0 + direction * (1.0 + prices[k])
                bids.append(Bid(a, direction, float(rng.integers(1000, 8000)), p))
                k += 1
    demands = [{a: float(v) for a, v in zip(areas, rng.normal(0, 80_000, n_areas))}
               for _ in range(6)]
    return areas, borders, caps, bids, demands


def test_working_set_clears_many_bids_like_the_whole_lp():
    # 3 600 bids: the model holds a fraction of them, the answer is the whole LP's (unique
    # optimum: distinct prices), cycle after cycle from the kept model and working set
    areas, borders, caps, bids, demands = _many_bids()
    opt = ActivationOptimiser(areas, borders, bids, backend="highspy")
    ref = ActivationOptimiser(areas, borders, bids, backend="linprog")
    for d in demands:
        r, want = opt.solve(d, caps), ref.solve(d, caps)
        assert r.objective == pytest.approx(want.objective, rel=1e-9)
        np.testing.assert_allclose(r.activated_kw, want.activated_kw, atol=1e-6)
        for a in areas:
            assert r.cbmp_eur_mwh[a] == pytest.approx(want.cbmp_eur_mwh[a], abs=PTOL)
            assert r.satisfied_kw[a] == pytest.approx(want.satisfied_kw[a], abs=1e-6)
    assert 0 < len(opt._cols) < len(bids) // 3      # the solver saw a third of the bids


def test_without_warm_start_the_answer_is_the_first_solves():
    # warm_start=False forgets basis and working set: each cycle's answer is bit for bit
    # what a new optimiser gives on that cycle alone
    areas, borders, caps, bids, demands = _many_bids(n_areas=6, per_side=60, seed=5)
    cold = ActivationOptimiser(areas, borders, bids, backend="highspy", warm_start=False,
                               working_set=2)
    for d in demands + demands[::-1]:
        r = cold.solve(d, caps)
        fresh = ActivationOptimiser(areas, borders, bids, backend="highspy", working_set=2)
        f = fresh.solve(d, caps)
        assert r.activated_kw.tolist() == f.activated_kw.tolist()
        assert r.cbmp_eur_mwh == f.cbmp_eur_mwh and r.exchange_kw == f.exchange_kw


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "8"])
def test_bad_working_set_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="working_set"):
        ActivationOptimiser(["A"], [], [], backend="highspy", working_set=bad)
