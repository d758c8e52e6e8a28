"""IGCC netting (host.market.netting.net): hand cases and hypothesis properties."""
import math

from hypothesis import given
from hypothesis import strategies as st

from host.market import net

TOL = 1e-6


def _balance(demands, res):
    """Per area: netted volume equals net import (upward) / net export (downward)."""
    areas = set(demands) | {x for e in res.exchange_kw for x in e}
    for a in areas:
        imp = sum(-f if e[0] == a else f for e, f in res.exchange_kw.items() if a in e)
        assert abs(imp - (res.netted_up_kw[a] - res.netted_down_kw[a])) < 1e-5


def test_two_areas_opposite_demands_net_to_smaller():
    r = net({"A": 100.0, "B": -60.0}, {("A", "B"): (math.inf, math.inf)})
    assert r.after_kw == {"A": 40.0, "B": 0.0}
    assert r.exchange_kw[("A", "B")] == -60.0  # B exports 60 kW to A
    assert r.netted_up_kw["A"] == 60.0 and r.netted_down_kw["B"] == 60.0


def test_capacity_limits_netting_per_direction():
    # B -> A free only 25 kW (second element of the pair); A -> B plenty but useless here
    r = net({"A": 100.0, "B": -60.0}, {("A", "B"): (500.0, 25.0)})
    assert abs(r.after_kw["A"] - 75.0) < TOL and abs(r.after_kw["B"] + 35.0) < TOL
    assert abs(r.exchange_kw[("A", "B")] + 25.0) < TOL


def test_same_direction_demands_do_not_net():
    r = net({"A": 100.0, "B": 60.0}, {("A", "B"): (math.inf, math.inf)})
    assert r.after_kw == {"A": 100.0, "B": 60.0}
    assert abs(r.exchange_kw[("A", "B")]) < TOL


def test_zero_capacity_means_no_netting():
    r = net({"A": 100.0, "B": -60.0}, {("A", "B"): (0.0, 0.0)})
    assert r.after_kw == {"A": 100.0, "B": -60.0}


def test_netting_through_a_transit_area():
    # A deficit, C surplus, B in between with no demand of its own: B passes it on
    r = net({"A": 50.0, "B": 0.0, "C": -80.0},
            {("A", "B"): (100.0, 100.0), ("B", "C"): (100.0, 100.0)})
    assert abs(r.after_kw["A"]) < TOL and abs(r.after_kw["C"] + 30.0) < TOL
    assert abs(r.exchange_kw[("B", "C")] + 50.0) < TOL
    assert abs(r.after_kw["B"]) < TOL


def test_bad_capacity_is_a_clear_error():
    try:
        net({"A": 1.0, "B": -1.0}, {("A", "B"): (-5.0, 0.0)})
    except ValueError as e:
        assert "('A', 'B')" in str(e) and ">= 0" in str(e)
    else:
        raise AssertionError("negative capacity accepted")


AREAS = ["A", "B", "C", "D"]


@st.composite
def instances(draw):
    n = draw(st.integers(2, 4))
    areas = AREAS[:n]
    demands = {a: draw(st.floats(-500, 500, allow_nan=False)) for a in areas}
    cap = st.one_of(st.just(0.0), st.floats(0, 400), st.just(math.inf))
    borders = {}
    for i in range(n):
        for j in range(i + 1, n):
            if draw(st.booleans()):
                borders[(areas[i], areas[j])] = (draw(cap), draw(cap))
    return demands, borders


@given(instances())
def test_netting_never_worsens_flips_or_overuses(inst):
    demands, borders = inst
    r = net(demands, borders)
    for a, d in demands.items():
        after = r.after_kw[a]
        assert abs(after) <= abs(d) + TOL                 # never increases |demand|
        assert after * d >= -TOL                          # never flips its sign
        assert abs(d - after - (r.netted_up_kw[a] - r.netted_down_kw[a])) < 1e-5
        assert r.netted_up_kw[a] >= 0 and r.netted_down_kw[a] >= 0
        assert r.netted_up_kw[a] == 0 or r.netted_down_kw[a] == 0
    for e, (ab, ba) in borders.items():
        f = r.exchange_kw[e]
        assert -ba <= f <= ab                             # exact: results are clipped
    _balance(demands, r)
    # netting is volume-neutral: what deficits receive, surpluses give
    assert abs(sum(r.netted_up_kw.values()) - sum(r.netted_down_kw.values())) < 1e-5


@given(instances())
def test_netting_is_maximal_with_unlimited_capacity(inst):
    demands, borders = inst
    # full mesh, infinite capacity: all opposite demand nets, the smaller side vanishes
    full = {(a, b): (math.inf, math.inf) for a in demands for b in demands if a < b}
    r = net(demands, full)
    up = sum(v for v in demands.values() if v > 0)
    down = -sum(v for v in demands.values() if v < 0)
    assert abs(sum(r.netted_up_kw.values()) - min(up, down)) < 1e-5
