# German acceptance channel on hand-built 1 s series with known verdicts.
import numpy as np
import pytest

from host.metrics import acceptance_channel

BAND = 1000.0   # kW prequalified band; tolerance 5 % = 50 kW


def _step_series(n=900, t0=60, sp=1000.0):
    s = np.zeros(n)
    s[t0:] = sp
    return s


def _follow(s, lag_s, ramp_kw_s):
    """Delivered power that starts lag_s after each change and ramps at ramp_kw_s."""
    p = np.zeros_like(s)
    for t in range(1, len(s)):
        tgt = s[t - lag_s] if t >= lag_s else s[0]
        p[t] = p[t - 1] + np.clip(tgt - p[t - 1], -ramp_kw_s, ramp_kw_s)
    return p


def test_inside_channel_passes():
    s = _step_series()
    p = _follow(s, 10, 10.0)    # reacts after 10 s, reaches 1 MW after 110 s
    r = acceptance_channel(s, p, BAND)
    assert r["passed"]
    assert r["share_under"] == 0 and r["share_over"] == 0
    assert r["late_reactions_s"] == [] and r["not_reached_s"] == []
    assert r["setpoint_changes"] == 1


def test_late_reaction_is_flagged():
    s = _step_series()
    p = _follow(s, 45, 50.0)    # first reaction 45 s after the change (> 30 s)
    r = acceptance_channel(s, p, BAND)
    assert r["late_reactions_s"] == [60]
    assert not r["passed"]


def test_outside_tolerance_under_fulfilment():
    s = _step_series()
    p = np.minimum(_follow(s, 5, 20.0), 900.0)   # stalls at 90 %: 100 kW short > 50 kW
    r = acceptance_channel(s, p, BAND)
    assert r["not_reached_s"] == [60]
    assert r["share_under"] > 0.3
    assert r["windows_under_over_limit"] > 0
    assert not r["passed"]


def test_over_fulfilment_is_not_under():
    s = _step_series()
    p = _follow(s, 0, 1e9) + 200.0 * (np.arange(len(s)) >= 60)   # 1.2 MW when 1 MW asked
    r = acceptance_channel(s, p, BAND)
    assert r["share_over"] > 0.5 and r["share_under"] == 0


@pytest.mark.parametrize("gap_s,fails", [(14, False), (15, False), (16, True), (40, True)])
def test_under_fulfilment_share_in_rolling_window(gap_s, fails):
    s = np.full(900, 500.0)
    p = s.copy()
    p[400:400 + gap_s] = 300.0   # 200 kW short for gap_s seconds, once
    r = acceptance_channel(s, p, BAND)
    assert r["max_window_under_share"] == pytest.approx(gap_s / 300)
    assert r["late_reactions_s"] == [] and r["not_reached_s"] == []
    # > 5 % of 300 s = more than 15 s flagged in one window
    assert (r["windows_under_over_limit"] > 0) == fails
    assert r["passed"] == (not fails)


def test_downward_step_channel_symmetry():
    s = -_step_series()
    p = -_follow(-s, 10, 10.0)
    assert acceptance_channel(s, p, BAND)["passed"]
    q = np.maximum(p, -900.0)          # stalls at -900 when -1000 asked: under-fulfilment
    r = acceptance_channel(s, q, BAND)
    assert r["share_under"] > 0.3 and not r["passed"]


def test_slow_bound_honours_minimum_gradient_and_300_s():
    s = _step_series(n=700, t0=10, sp=100.0)   # small change: gradient floor 1 MW/270 s
    r = acceptance_channel(s, s.copy(), BAND)
    lo = r["lower_kw"]
    # slow bound starts 30 s late and moves at >= 1000/270 kW/s: 100 kW within 27 s more
    assert lo[10 + 30] == pytest.approx(-50.0)
    assert lo[10 + 30 + 28] == pytest.approx(100.0 - 50.0)
    big = _step_series(n=700, t0=10, sp=1000.0)
    lo = acceptance_channel(big, big.copy(), BAND)["lower_kw"]
    assert lo[10 + 300] == pytest.approx(1000.0 - 50.0)    # reached at t0 + 300 s
    assert lo[10 + 299] < 1000.0 - 50.0
