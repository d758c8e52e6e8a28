# German aFRR acceptance band / allocable under-fulfilment: hand-derived expectations.
#
# Every expected value below is worked out from the model's formulas (host/metrics/acceptance.py
# docstring) by hand, in the comment next to it; none is copied from the code's output.
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.metrics.acceptance import (
    DEFAULT_START_UTC_S,
    evaluate,
    prequalification_steps,
    product_change_mask,
)

G = 1000.0 / 270.0          # kW/s: the minimum gradient 1 MW / 270 s
N = 900
T0 = 60                     # the set-point steps 0 -> 1000 kW at t = 60


def _step(n=N, t0=T0, sp=1000.0):
    s = np.zeros(n)
    s[t0:] = sp
    return s


def _delay(s, d):
    """Measured = set-point d seconds late (held at s[0] before the start)."""
    return np.concatenate([np.full(d, s[0]), s[:len(s) - d]]) if d else s.copy()


def _mirror(r):
    """(pos, neg) figures of a result, for the mirror-image checks."""
    return (r.accepted_kwh_pos, r.accepted_kwh_neg, r.under_kwh_pos, r.under_kwh_neg,
            r.charged_seconds, int(r.flag_pos.sum()), int(r.flag_neg.sum()))


def _check_mirror(s, m, start=DEFAULT_START_UTC_S):
    a, b = evaluate(s, m, start), evaluate(-s, -m, start)
    pa, na, upa, una, ca, fpa, fna = _mirror(a)
    pb, nb, upb, unb, cb, fpb, fnb = _mirror(b)
    assert (pb, nb, upb, unb, cb, fpb, fnb) == pytest.approx((na, pa, una, upa, ca, fna, fpa))
    np.testing.assert_allclose(b.oga_kw, -a.uga_kw)
    np.testing.assert_allclose(b.utg_kw, -a.otg_kw)
    return a, b


def test_limits_of_a_step_by_hand():
    s = _step()
    r = evaluate(s, s)
    # OGA: max31 is 1000 from t0 on
    assert r.oga_kw[T0 - 1] == 0 and np.all(r.oga_kw[T0:] == 1000)
    # UGA: min over [t-31, t] holds a 0 up to t = 90; from 91 the lower limit rises at
    # max(|0 - 1000|, 1000) / 270 = G per second (the 0 stays in [t-301, t-31] until t = 360)
    assert np.all(r.uga_kw[:91] == 0)
    for t in (91, 100, 200, 359):
        assert r.uga_kw[t] == pytest.approx((t - 90) * G)
    # at t = 360 the sum of 270 gradient steps is 1000 (to float rounding); from t = 361 the
    # 1000 of the reaction window is the minimum itself
    assert r.uga_kw[360] == pytest.approx(1000.0) and np.all(r.uga_kw[361:] == 1000)
    # tolerance limits: 5 % of each limit's own magnitude
    assert r.utg_kw[200] == pytest.approx(0.95 * 110 * G)
    assert r.otg_kw[200] == pytest.approx(1050.0)


@pytest.mark.parametrize("sign", [1, -1])
def test_perfect_follower(sign):
    s = sign * _step()
    r = evaluate(s, s.copy())
    assert r.passed and r.charged_seconds == 0 and r.flagged_seconds == 0
    # accepted: min(m, OGA) = 1000 kW over the 840 s from t0 to the end
    acc = 840 * 1000 / 3600
    got = r.accepted_kwh_pos if sign > 0 else r.accepted_kwh_neg
    assert got == pytest.approx(acc)
    assert (r.accepted_kwh_neg if sign > 0 else r.accepted_kwh_pos) == 0
    assert r.under_kwh_pos == 0 and r.under_kwh_neg == 0


def test_delay_15_s_and_its_mirror():
    s = _step()
    a, b = _check_mirror(s, _delay(s, 15))
    # m = 1000 from t = 75; UGA (and UTG) is 0 up to t = 90: nothing owed before the unit moves
    assert a.passed and a.flagged_seconds == 0 and b.passed
    assert a.accepted_kwh_pos == pytest.approx(825 * 1000 / 3600)


def test_delay_45_s_flagged_not_charged():
    s = _step()
    a, b = _check_mirror(s, _delay(s, 45))
    # m = 0 until t = 104; UTG = 0.95 (t - 90) G > 0 from t = 91: flagged 91..104 = 14 s,
    # 14 / 300 = 4.7 % is not more than 5 %: nothing allocable
    assert list(np.nonzero(a.flag_pos)[0]) == list(range(91, 105))
    assert a.passed and a.charged_seconds == 0 and a.under_kwh_pos == 0
    assert b.passed and list(np.nonzero(b.flag_neg)[0]) == list(range(91, 105))


def test_delay_60_s_charged_from_the_16th_flagged_second():
    s = _step()
    a, b = _check_mirror(s, _delay(s, 60))
    # flagged 91..119 (29 s); the share exceeds 5 % (more than 15 of 300 s) from the 16th,
    # t = 106: allocable 106..119 = 14 s, each UE = 0.95 (t - 90) G
    assert int(a.flag_pos.sum()) == 29
    assert list(np.nonzero(a.charged)[0]) == list(range(106, 120))
    want = 0.95 * G * sum(range(16, 30)) / 3600          # 16 + ... + 29 = 315
    assert a.under_kwh_pos == pytest.approx(want)
    assert not a.passed and a.charged_seconds == 14
    assert b.under_kwh_neg == pytest.approx(want) and b.under_kwh_pos == 0


def test_reversal_with_the_unit_still_above_the_falling_setpoint():
    # +1000 from t = 60, -1000 from t = 400; the unit 20 s late: +1000 until t = 419
    s = _step()
    s[400:] = -1000.0
    a, b = _check_mirror(s, _delay(s, 20))
    # OGA stays 1000 while [t-31, t] holds t = 399, until t = 430; then it falls at
    # max(|1000 - (-1000)|, 1000) / 270 = 2000/270 kW/s, reaching 0 at t = 565: OTG < 0 only
    # from t = 566 on, when the unit has long been at -1000 (|OTG| = 0.95 |OGA| < 1000)
    assert a.passed and a.flagged_seconds == 0
    assert a.oga_kw[430] == 1000 and a.oga_kw[431] == pytest.approx(1000 - 2000 / 270)
    assert a.oga_kw[565] == pytest.approx(0.0, abs=1e-9)
    assert np.all(a.otg_kw[:566] >= -1e-9) and np.all(a.otg_kw[567:] < 0)
    # accepted: +1000 over 80..419 (340 s, OGA = 1000 there, including the 20 s above a set-point
    # of -1000), -1000 over 420..899 (480 s, UGA = -1000 there)
    assert a.accepted_kwh_pos == pytest.approx(340 * 1000 / 3600)
    assert a.accepted_kwh_neg == pytest.approx(480 * 1000 / 3600)


def test_partial_activation_exactly_5_pct_short_is_on_the_limit():
    s = np.full(N, 500.0)                      # steady partial activation, band 1000
    r = evaluate(s, np.full(N, 475.0))         # UTG = 500 - 25 = 475: not below it
    assert r.flagged_seconds == 0 and r.passed


@pytest.mark.parametrize("sign", [1, -1])
def test_partial_activation_6_pct_short_is_charged(sign):
    s = sign * np.full(N, 500.0)
    r = evaluate(s, sign * np.full(N, 470.0))
    # UE = 475 - 470 = 5 kW every second; the 16th flagged second (t = 15) makes the share
    # 16/300 > 5 %: allocable on t = 15..899 (885 s)
    assert r.flagged_seconds == N and r.charged_seconds == 885
    under = r.under_kwh_pos if sign > 0 else r.under_kwh_neg
    assert under == pytest.approx(885 * 5 / 3600)
    assert (r.under_kwh_neg if sign > 0 else r.under_kwh_pos) == 0
    # accepted: the 470 kW the unit delivered
    acc = r.accepted_kwh_pos if sign > 0 else r.accepted_kwh_neg
    assert acc == pytest.approx(N * 470 / 3600)


def test_over_fulfilment_never_fails_and_is_not_accepted():
    s = np.full(N, 500.0)
    r = evaluate(s, np.full(N, 800.0))
    assert r.passed and r.flagged_seconds == 0
    assert r.accepted_kwh_pos == pytest.approx(N * 500 / 3600)   # capped at OGA = 500


@pytest.mark.parametrize("gap_s,charged", [(15, 0), (16, 1), (40, 25)])
def test_allocable_only_above_5_pct_of_300_s(gap_s, charged):
    s = np.full(N, 500.0)
    m = s.copy()
    m[400:400 + gap_s] = 300.0                 # UE = 475 - 300 = 175 kW while short
    r = evaluate(s, m)
    # allocable from the 16th flagged second of the gap on
    assert r.charged_seconds == charged
    assert r.under_kwh_pos == pytest.approx(charged * 175 / 3600)


def _ramp_out(n=700, tb=300):
    s = np.full(n, 1000.0)
    s[tb:tb + 100] = 1000.0 - 10.0 * np.arange(100)      # 1000 -> 10 over 100 s
    s[tb + 100:] = 0.0
    m = np.where(np.arange(n) < tb, 1000.0, 0.0)          # unit drops to 0 at tb
    return s, m


def test_product_boundary_inside_the_series():
    s, m = _ramp_out()
    at_boundary = 4 * 3600 * 123456 - 300                # 04:00-type boundary at t = 300
    assert at_boundary % (4 * 3600) == 4 * 3600 - 300
    r = evaluate(s, m, at_boundary)
    # phase from t = 300 to the reversal point at t = 400 (s = 0): UGA clamped to <= 0,
    # nothing owed while the old product's set-point ramps out
    mask = r.product_change
    assert list(np.nonzero(mask)[0]) == list(range(300, 400))
    assert np.all(r.uga_kw[300:400] <= 0) and r.flagged_seconds == 0 and r.passed
    # the same series with no boundary: UGA = s(t) on the ramp, UTG = 0.95 s(t), flagged
    # 300..399 (100 s), allocable from the 16th, t = 315..399 (85 s),
    # sum of 0.95 (1000 - 10 k) for k = 15..99 = 0.95 * 36550
    q = evaluate(s, m, DEFAULT_START_UTC_S)
    assert not q.product_change.any()
    assert int(q.flag_pos.sum()) == 100 and q.charged_seconds == 85
    assert q.under_kwh_pos == pytest.approx(0.95 * 36550 / 3600)
    # the mirror image behaves the same
    rn = evaluate(-s, -m, at_boundary)
    assert rn.passed and np.all(rn.oga_kw[300:400] >= 0)


def test_product_change_phase_ends_after_300_s_and_at_a_settled_setpoint():
    n = 1000
    s = 1000.0 - np.arange(n, dtype=float)      # |s| keeps falling for 1000 s
    mask = product_change_mask(s, -100)          # boundary at t = 100
    assert list(np.nonzero(mask)[0]) == list(range(100, 400))
    flat = np.full(n, 700.0)                     # |s| never falls: reversal at the boundary
    assert not product_change_mask(flat, -100).any()


def test_isps_are_utc_quarter_hours():
    s = np.full(1200, 500.0)
    m = np.full(1200, 470.0)
    start = DEFAULT_START_UTC_S + 600             # 01:10:00 UTC
    r = evaluate(s, m, start)
    assert [q["isp_start_utc"] for q in r.isps] == ["2026-01-01T01:00:00Z",
                                                    "2026-01-01T01:15:00Z"]
    assert [q["isp_end_utc"] for q in r.isps] == ["2026-01-01T01:15:00Z",
                                                  "2026-01-01T01:30:00Z"]
    assert [q["seconds"] for q in r.isps] == [300, 900]
    # charged from t = 15: 285 s in the first ISP, 900 in the second
    assert [q["charged_seconds"] for q in r.isps] == [285, 900]
    assert r.isps_failed == 2
    assert sum(q["under_kwh_pos"] for q in r.isps) == pytest.approx(r.under_kwh_pos)
    d = r.summary()
    assert d["passed"] is False and d["charged_seconds"] == 1185 and len(d["isps"]) == 2


def test_bad_input():
    with pytest.raises(ValueError):
        evaluate([1, 2], [1])
    with pytest.raises(ValueError):
        evaluate([], [])
    with pytest.raises(ValueError):
        evaluate([1, float("nan")], [1, 1])


@st.composite
def _setpoints(draw):
    held = draw(st.lists(st.tuples(st.integers(1, 120), st.integers(-2000, 2000)),
                         min_size=1, max_size=20))
    s = np.concatenate([np.full(k, float(v)) for k, v in held])
    return s


@settings(max_examples=60, deadline=None)
@given(_setpoints(), st.integers(0, 30), st.integers(0, 4 * 3600 - 1))
def test_delayed_follower_is_never_charged(s, d, phase):
    start = DEFAULT_START_UTC_S - 3600 + phase    # anywhere in a product slice
    r = evaluate(s, _delay(s, min(d, len(s))), start)
    assert r.flagged_seconds == 0 and r.passed


# ------------------------------------------------------------------ prequalification check
@pytest.mark.parametrize("d", [0, 15, 30])
@pytest.mark.parametrize("sign", [1, -1])
def test_prequal_passes_exact_and_30_s_late(d, sign):
    s = np.zeros(2400)
    s[60:660], s[1260:1860] = 1000.0, -1000.0
    s = sign * s
    r = prequalification_steps(s, _delay(s, d))
    assert r["steps"] == 4 and r["passed"]


def test_prequal_late_and_not_reached():
    s = _step(n=800)
    r = prequalification_steps(s, _delay(s, 31))        # first move at t0 + 31 > 30 s
    assert r["late_reactions_s"] == [T0] and not r["passed"]
    m = np.minimum(_delay(s, 5), 940.0)                  # stalls 60 kW short (> 5 % of 1000)
    r = prequalification_steps(s, m)
    assert r["late_reactions_s"] == [] and r["not_reached_s"] == [T0]
