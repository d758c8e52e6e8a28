# Grid emulator physics checks against theory and an independent solver.
import math

import numpy as np
import pytest
from scipy import signal

from host.grid import Simulator, load_world
from host.grid.world import world_from_dict

TWO = "host/worlds/two_area.toml"
BALTIC = "host/worlds/baltic.toml"


def _run(sim, seconds, every_ms=100):
    sim.start_recording(every_ms)
    sim.advance(int(seconds * 1000))
    rec = sim.recording()
    return rec, {c: rec["data"][:, i] for i, c in enumerate(rec["columns"])}


def test_two_area_steady_state_primary_only():
    w = load_world(TWO)
    sim = Simulator(w, scenario="step_primary", step_ms=100)
    sim.advance(120_000)
    beta = sum(a.d_mw_per_hz + a.fcr_gain_mw_per_hz for a in w.areas)
    expect_mhz = -20.0 / beta * 1000.0
    for name in ("area1", "area2"):
        got = sim.area_state(name)["df_mhz"]
        assert abs(got - expect_mhz) <= 0.01 * abs(expect_mhz), (name, got, expect_mhz)
    # the deficit of area1 is covered through the tie by area2's frequency response
    a2 = w.areas[1]
    tie = sim.tie_flows_mw()["area1-area2"]
    assert tie == pytest.approx(-(a2.d_mw_per_hz + a2.fcr_gain_mw_per_hz) * 20.0 / beta,
                                rel=0.01)


def _random_world(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    areas = {}
    for i in range(n):
        areas["A%d" % i] = {
            "base_mw": float(rng.uniform(500, 20000)), "inertia_h_s": float(rng.uniform(2, 8)),
            "d_mw_per_hz": float(rng.uniform(0, 500)),
            "fcr_gain_mw_per_hz": float(rng.uniform(50, 5000)),
            "tg_s": float(rng.uniform(0.1, 1)), "tt_s": float(rng.uniform(0.3, 8))}
    ties = [{"a": "A%d" % i, "b": "A%d" % (i + 1), "sync_mw": float(rng.uniform(300, 5000)),
             "damp_mw_per_hz": float(rng.uniform(0, 300))} for i in range(n - 1)]
    step_area = "A%d" % int(rng.integers(0, n))
    dp = float(rng.uniform(-300, 300))
    return world_from_dict({
        "world": {"name": "rnd"}, "areas": areas, "ties": ties,
        "scenarios": {"s": {"lfc": False, "events": [
            {"t_s": 0.0, "kind": "load_step", "area": step_area, "mw": dp}]}}}), dp


@pytest.mark.parametrize("seed", range(6))
def test_steady_state_random_worlds(seed):
    w, dp = _random_world(seed)
    sim = Simulator(w, scenario="s", step_ms=100)
    sim.advance(600_000)
    beta = sum(a.d_mw_per_hz + a.fcr_gain_mw_per_hz for a in w.areas)
    expect = -dp / beta * 1000.0
    for a in w.areas:
        got = sim.area_state(a.name)["df_mhz"]
        assert abs(got - expect) <= 0.01 * abs(expect) + 1e-9, (a.name, got, expect)


def _independent_two_area(t, t_step, dpl):
    """Elgerd two-area per-unit model (values: docs/SOURCES.md), solved by scipy.signal."""
    kp, tp, tg, tt, r, t12 = 120.0, 20.0, 0.08, 0.3, 2.4, 0.545 / (2 * math.pi)
    # x = [df1, pv1, pg1, df2, pv2, pg2, ptie]  (Hz, pu, pu, Hz, pu, pu, pu)
    a = np.zeros((7, 7))
    for o in (0, 3):
        a[o, o] = -1.0 / tp
        a[o, o + 2] = kp / tp
        a[o + 1, o] = -1.0 / (r * tg)
        a[o + 1, o + 1] = -1.0 / tg
        a[o + 2, o + 1] = 1.0 / tt
        a[o + 2, o + 2] = -1.0 / tt
    a[0, 6] = -kp / tp
    a[3, 6] = kp / tp
    a[6, 0] = 2 * math.pi * t12
    a[6, 3] = -2 * math.pi * t12
    b = np.zeros((7, 1))
    b[0, 0] = -kp / tp
    c = np.zeros((3, 7))
    c[0, 0] = c[1, 3] = c[2, 6] = 1.0
    sys = signal.StateSpace(a, b, c, np.zeros((3, 1)))
    u = np.where(t >= t_step - 1e-12, dpl, 0.0)
    _, y, _ = signal.lsim(sys, u, t, interp=False)
    return y


def test_two_area_step_matches_scipy_state_space():
    w = load_world(TWO)
    sim = Simulator(w, scenario="step_primary", step_ms=100)
    rec, col = _run(sim, 30.0)
    base = w.areas[0].base_mw
    t_fine = np.arange(0, 30.0 + 1e-9, 0.01)
    y = _independent_two_area(t_fine, 1.0, 20.0 / base)
    idx = np.rint(col["t_s"] / 0.01).astype(int)
    ref = y[idx]
    got = np.column_stack([col["df_mhz_area1"] / 1000.0, col["df_mhz_area2"] / 1000.0,
                           col["tie_mw_area1-area2"] / base])
    for j, name in enumerate(("df1", "df2", "ptie")):
        peak = np.max(np.abs(ref[:, j]))
        rms = np.sqrt(np.mean((got[:, j] - ref[:, j]) ** 2))
        assert peak > 0
        assert rms < 0.01 * peak, (name, rms, peak)      # the criterion
        # both are exact for inputs held over a step, so they agree to rounding; a 10 %
        # error in any one time constant would show here (measured: > 0.5 % of peak)
        assert rms < 1e-6 * peak, (name, rms, peak)


def test_non_intervention_two_area():
    sim = Simulator(load_world(TWO), scenario="step_lfc", step_ms=100)
    sim.advance(15 * 60_000)
    a1, a2 = sim.area_state("area1"), sim.area_state("area2")
    assert abs(a1["ace_kw"]) <= 0.01 * 20_000
    assert abs(a2["ace_kw"]) <= 0.01 * 20_000
    assert a1["afrr_kw"] == pytest.approx(20_000, abs=200)
    assert abs(a2["afrr_kw"]) <= 200


def test_non_intervention_baltic_lt_step():
    sim = Simulator(load_world(BALTIC), scenario="lt_load_step", step_ms=100)
    sim.advance(15 * 60_000 + 10_000)
    lt = sim.area_state("LT")
    assert abs(lt["ace_kw"]) <= 0.01 * 50_000
    assert lt["afrr_kw"] == pytest.approx(50_000, abs=500)
    for other in ("CE", "PL", "LV", "EE"):
        st = sim.area_state(other)
        assert abs(st["afrr_kw"]) <= 500, (other, st)
        assert abs(st["ace_kw"]) <= 500, (other, st)


def test_tie_flows_sum_to_zero_every_step():
    sim = Simulator(load_world(BALTIC), scenario="normal_day", seed=3, step_ms=100)
    sim.add_unit("dut", area="LT")
    sim.set_unit_power("dut", 800)
    rec, col = _run(sim, 120.0)
    names = sim.names
    # net exports from the recorded ACE: ACE = export - sched - igcc + K df
    lfc = sim.lfc
    tot = np.zeros(len(col["t_s"]))
    for i, a in enumerate(names):
        tot += (col["ace_mw_" + a] + lfc.sched[i] + col["igcc_mw_" + a]
                - lfc.k[i] * col["df_mhz_" + a] / 1000.0)
    scale = max(1.0, float(np.max(np.abs(col["tie_mw_LT-PL"]))))
    assert np.max(np.abs(tot)) < 1e-6 * scale * 1000
    assert len(col["t_s"]) == 1200


def test_nordbalt_trip_shows_in_lt_ace():
    sim = Simulator(load_world(BALTIC), scenario="nordbalt_trip", step_ms=100)
    sim.advance(80_000)          # 20 s after the trip, before aFRR has done much
    lt = sim.area_state("LT")
    assert lt["ace_kw"] + lt["afrr_kw"] == pytest.approx(-400_000, rel=0.1)
    for other in ("PL", "LV", "EE"):
        assert abs(sim.area_state(other)["ace_kw"]) < 0.1 * 400_000


def test_unit_injection_moves_frequency_by_theory():
    w = load_world(TWO)
    sim = Simulator(w, scenario="quiet", step_ms=100, lfc=False)
    sim.add_unit("dut", area="area2")
    sim.set_unit_power("dut", 10_000)      # 10 MW upward
    sim.advance(120_000)
    beta = sum(a.d_mw_per_hz + a.fcr_gain_mw_per_hz for a in w.areas)
    m = sim.unit_measurements("dut")
    assert m["f_mhz"] - 60_000 == round(10.0 / beta * 1000.0)
    assert set(m) >= {"f_mhz", "ties_kw", "sched_kw", "ace_kw"}
    assert all(isinstance(v, int) for v in m["ties_kw"])


def test_seeded_noise_is_reproducible():
    def final(seed):
        sim = Simulator(load_world(BALTIC), scenario="normal_day", seed=seed, step_ms=100)
        sim.advance(300_000)
        return sim.area_state("LT")["df_mhz"]
    assert final(5) == final(5)
    assert final(5) != final(6)


def test_advance_rejects_partial_steps():
    sim = Simulator(load_world(TWO), step_ms=100)
    with pytest.raises(ValueError):
        sim.advance(150)
    with pytest.raises(ValueError):
        Simulator(load_world(TWO), step_ms=300)   # does not divide the 4 s cycle


def test_hourly_schedule_steps_give_deviations_at_the_hour():
    from host.grid.world import Scenario
    sim = Simulator(load_world(BALTIC), scenario=Scenario(name="h", hourly=True), seed=4,
                    netting=False)
    rec, col = _run(sim, 4 * 3600.0, every_ms=1000)
    t, df = col["t_s"], np.abs(col["df_mhz_CE"])
    phase = np.mod(t, 3600.0)
    near_hour = (phase < 300) | (phase > 3300)
    near_half = np.abs(phase - 1800) < 300
    later = t > 3000            # hour 0 starts balanced by construction
    assert df[near_hour & later].mean() > 3 * df[near_half & later].mean()


def test_lfc_anti_windup_releases_promptly():
    from host.grid.world import Event, Scenario
    sc = Scenario(name="sat", events=[Event(t_s=60.0, kind="hvdc_trip", link="nordbalt"),
                                      Event(t_s=1260.0, kind="hvdc_restore", link="nordbalt")])
    sim = Simulator(load_world(BALTIC), scenario=sc, seed=1)
    sim.advance(1256_000)
    lt = sim.area_state("LT")
    assert lt["afrr_demand_kw"] == 120_000          # saturated at the band for 20 min
    assert lt["afrr_kw"] == pytest.approx(120_000, abs=1)
    sim.advance(120_000)
    # without anti-windup the integral of 20 min at about -280 MW ACE would hold the demand
    # at the limit for a long time; clamped, it leaves the limit at once and undoes the
    # surplus (the link is back while 120 MW of aFRR still runs)
    lt = sim.area_state("LT")
    assert lt["afrr_demand_kw"] < 60_000
    sim.advance(900_000)
    assert abs(sim.area_state("LT")["afrr_kw"]) < 2_000
    assert abs(sim.area_state("LT")["ace_kw"]) < 1_000


@pytest.mark.parametrize("seed", range(8))
def test_steady_state_with_deadband_and_fcr_limit(seed):
    """Nonlinear FCR: the steady state solves sum(D df + sat(G dz(df))) = -dP (brentq)."""
    from scipy.optimize import brentq
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 5))
    areas = {}
    for i in range(n):
        g = float(rng.uniform(50, 5000))
        areas["A%d" % i] = {
            "base_mw": float(rng.uniform(500, 20000)), "inertia_h_s": float(rng.uniform(2, 8)),
            "d_mw_per_hz": float(rng.uniform(0, 500)), "fcr_gain_mw_per_hz": g,
            "fcr_max_mw": float(g * rng.uniform(0.02, 0.3)),
            "fcr_deadband_mhz": float(rng.uniform(0, 20)),
            "tg_s": float(rng.uniform(0.1, 1)), "tt_s": float(rng.uniform(0.3, 8))}
    ties = [{"a": "A%d" % i, "b": "A%d" % (i + 1), "sync_mw": float(rng.uniform(300, 5000)),
             "damp_mw_per_hz": float(rng.uniform(0, 300))} for i in range(n - 1)]
    dp = float(rng.choice([-1, 1]) * rng.uniform(20, 400))
    w = world_from_dict({"world": {"name": "nl"}, "areas": areas, "ties": ties,
                         "scenarios": {"s": {"lfc": False, "events": [
                             {"t_s": 0.0, "kind": "load_step", "area": "A0", "mw": dp}]}}})
    sim = Simulator(w, scenario="s", step_ms=100)
    sim.advance(900_000)

    def residual(df):
        tot = dp
        for a in w.areas:
            db = a.fcr_deadband_mhz / 1000.0
            dz = df - np.clip(df, -db, db)
            tot += a.d_mw_per_hz * df + np.clip(a.fcr_gain_mw_per_hz * dz, -a.fcr_max_mw,
                                                a.fcr_max_mw)
        return tot
    want = brentq(residual, -20.0, 20.0, xtol=1e-12) * 1000.0
    for a in w.areas:
        got = sim.area_state(a.name)["df_mhz"]
        assert abs(got - want) <= 0.01 * abs(want), (a.name, got, want)
