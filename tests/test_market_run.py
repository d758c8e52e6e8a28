"""Market over the emulator: scenarios, publication, settlement, market-file errors."""
import math
import pathlib

import numpy as np
import pytest

from host.market.publication import (
    CycleLog,
    area_energy_cost_eur,
    isp_table,
    publication,
    settlement,
)
from host.market.run import MarketFileError, MarketRun, load_market

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARKET = ROOT / "host" / "worlds" / "baltic_market.toml"


def _step(run, cycles, check=None):
    cyc_ms = int(run.world.lfc_cycle_s * 1000)
    for _ in range(cycles):
        run.sim.advance(cyc_ms)
        if check:
            check(run)
    return run.lfc.log.arrays()


def _invariants(run):
    lfc, res = run.lfc, run.lfc.last
    assert abs(lfc.igcc.sum()) < 1e-6, "ACE corrections of all areas sum to zero"
    for e, f in res.exchange_kw.items():
        ab, ba = run.caps_kw[e]
        assert -ba <= f <= ab, "exchange within free capacity"
    for n in lfc.names:   # satisfied demand never exceeds, never flips, the LFC demand
        d = lfc.demand[lfc.names.index(n)] * 1000.0
        assert abs(res.satisfied_kw[n]) <= abs(d) + 1e-6 and res.satisfied_kw[n] * d >= -1e-6


def test_lt_pl_congestion_splits_the_baltic_price():
    run = MarketRun(MARKET, "lt_pl_congestion")
    assert run.caps_kw[("LT", "PL")] == (5000.0, 5000.0)   # NTC 170/150 less 165/145 allocated
    a = _step(run, 150, _invariants)
    i = run.lfc.names.index
    late = slice(60, None)   # after the 50 MW step has been taken over by aFRR
    assert np.all(a["cbmp"][late, i("LT")] > a["cbmp"][late, i("PL")] + 1.0)
    # LV and EE hang on LT through uncongested ties: one price with LT
    assert np.allclose(a["cbmp"][late, i("LV")], a["cbmp"][late, i("LT")])
    assert np.allclose(a["cbmp"][late, i("PL")], a["cbmp"][late, i("CE")])
    assert run.lfc.last.exchange_kw[("LT", "PL")] == pytest.approx(-5000.0)


def test_without_congestion_one_price():
    cfg = load_market(MARKET)
    cfg.scenarios["lt_pl_congestion"].borders = {}
    run = MarketRun(cfg, "lt_pl_congestion")
    a = _step(run, 150, _invariants)
    assert np.ptp(a["cbmp"][60:], axis=1).max() < 1e-3


def test_nordbalt_trip_keeps_invariants_and_lt_asks_upward():
    run = MarketRun(MARKET, "nordbalt_trip")
    a = _step(run, 120, _invariants)
    lt = run.lfc.names.index("LT")
    assert a["demand_mw"][-1, lt] == pytest.approx(120.0)   # LT's band is exhausted (400 MW lost)
    assert a["sat_up_mw"][-1].sum() > 100.0


@pytest.mark.parametrize("scenario, activated", [("unit_out_of_money", False),
                                                 ("unit_in_money", True)])
def test_unit_bid_in_and_out_of_the_money(scenario, activated):
    run = MarketRun(MARKET, scenario)
    a = _step(run, 450)
    sp = a["unit_setpoint_kw"]
    if not activated:
        assert np.all(sp == 0.0)
        assert all(r["revenue_eur"] == 0.0 for r in settlement(run.lfc.log))
    else:
        # cheapest bid in both directions of one uncongested region: whenever the region
        # needs upward (downward) aFRR the unit gives it first, up to its 5 MW
        net = a["demand_mw"].sum(axis=1)
        up, dn = net > 5.0, net < -5.0
        assert up.any() and dn.any()
        assert np.allclose(sp[up], 5000.0) and np.allclose(sp[dn], -5000.0)
        s = settlement(run.lfc.log)
        assert sum(r["energy_up_kwh"] for r in s) > 0 and sum(r["energy_down_kwh"] for r in s) > 0


def test_settlement_matches_publication_over_a_day():
    """Synthetic day of 4 s cycles: the full-ISP publication (aFRR+/- x volume-weighted CBMP)
    reproduces the cycle-by-cycle payment of each area, and the unit's ISP revenues add up."""
    rng = np.random.default_rng(5)
    areas = ["LT", "LV"]
    log = CycleLog(areas=areas, cycle_s=4.0, unit_area="LT")
    n = 86400 // 4
    pay = np.zeros(2)
    unit_rev = 0.0
    for k in range(n):
        sat = rng.normal(0, 30, 2) * (rng.random(2) < 0.8)
        cb = rng.normal(90, 40, 2)
        up, dn = np.maximum(sat, 0), np.maximum(-sat, 0)
        p_unit = float(rng.choice([0.0, 5000.0, -5000.0]))
        log.append(4.0 * k, rng.normal(0, 10, 2), sat, up, dn, up * 0.1, dn * 0.1, cb,
                   p_unit, p_unit)
        pay += (up - dn) * cb * 4.0 / 3600.0
        unit_rev += p_unit / 1000.0 * cb[0] * 4.0 / 3600.0
    rows = publication(log)
    assert len(rows) == 96 * 15 * 2
    cost = area_energy_cost_eur(log)
    assert cost["LT"] == pytest.approx(pay[0], rel=1e-9)
    assert cost["LV"] == pytest.approx(pay[1], rel=1e-9)
    s = settlement(log)
    assert len(s) == 96
    assert sum(r["revenue_eur"] for r in s) == pytest.approx(unit_rev, rel=1e-9)


def test_publication_elapsed_minute_averages():
    log = CycleLog(areas=["A"], cycle_s=4.0)
    for k in range(225):    # one ISP: upward 10 MW for the first 5 minutes, then 40 MW
        sat = 10.0 if k < 75 else 40.0
        log.append(4.0 * k, [-sat], [sat], [sat], [0.0], [0.0], [0.0], [50.0 + k // 75])
    rows = {r["minute"]: r for r in publication(log)}
    assert rows[5]["afrr_up_mw"] == pytest.approx(10.0)
    assert rows[10]["afrr_up_mw"] == pytest.approx(25.0)
    assert rows[10]["cbmp_up_demand_weighted_eur_mwh"] == pytest.approx((10 * 50 + 40 * 51) / 50)
    assert rows[10]["cbmp_last_cycle_eur_mwh"] == 51.0
    assert rows[15]["si_mw"] == pytest.approx(rows[15]["ace_mw"] - rows[15]["afrr_up_mw"])
    assert rows[15]["nrv_mw"] == pytest.approx(rows[15]["afrr_up_mw"])
    assert math.isnan(rows[15]["cbmp_down_demand_weighted_eur_mwh"])
    # UTC: the run starts at 01:00 UTC, minute 10 is 01:09-01:10 of the 01:00-01:15 ISP
    assert rows[10]["isp_start_utc"] == "2026-01-01T01:00:00Z"
    assert rows[10]["isp_end_utc"] == "2026-01-01T01:15:00Z"
    assert rows[10]["minute_start_utc"] == "2026-01-01T01:09:00Z"
    assert rows[10]["minute_end_utc"] == "2026-01-01T01:10:00Z"


@pytest.mark.parametrize("text, where", [
    ('[market]\nseed = 1\n', ":1: market.world: required"),
    ('[market]\nworld = "x.toml"\n[bids.LT]\nvolume_mw = 5\nn_bid = 3\n', ":5: bids.LT.n_bid"),
    ('[market]\nworld = "x.toml"\n[borders.LT-PL]\ntrm = [50]\n', ":4: borders.LT-PL.trm"),
    ('[market]\nworld = "x.toml"\nprice_cap_eur_mwh = "high"\n', ":3: market.price_cap"),
    ('[market\n', ":1: syntax"),
])
def test_bad_market_file_one_line_error(tmp_path, text, where):
    p = tmp_path / "m.toml"
    p.write_text(text)
    with pytest.raises(MarketFileError) as e:
        load_market(p)
    assert where in str(e.value) and str(e.value).startswith(str(p))
    assert "\n" not in str(e.value)


def test_border_trm_from_flow_data(tmp_path):
    """NTC = TTC - TRM with the TRM computed from a flows CSV for the named month."""
    flows = tmp_path / "flows.csv"
    flows.write_text("timestamp,border,planned_mw,actual_mw\n" + "".join(
        f"2025-02-{d:02d}T{h:02d}:00Z,LT-PL,100,{100 + (30 if h % 2 else -10)}\n"
        for d in range(10, 28) for h in range(24)))
    world = MARKET.parent / "baltic.toml"
    text = MARKET.read_text().replace('world = "baltic.toml"', f'world = "{world}"')
    text = text.replace("trm = [50.0, 50.0]", 'trm_csv = "flows.csv"\ntrm_month = "2025-03"')
    m = tmp_path / "m.toml"
    m.write_text(text)
    cfg = load_market(m)
    bc = cfg.borders[("LT", "PL")]
    # a->b sample: 30, 0 alternating -> mean 15 + std 15; b->a: 0, 10 -> 5 + 5
    assert bc.trm == (pytest.approx(30.0), pytest.approx(10.0))
    assert bc.ntc() == (pytest.approx(190.0), pytest.approx(190.0))
    run = MarketRun(cfg, "uncongested")
    assert run.caps_kw[("LT", "PL")] == (pytest.approx(190_000.0), pytest.approx(190_000.0))
    m.write_text(text.replace('trm_month = "2025-03"', 'trm_month = "2030-01"'))
    with pytest.raises(MarketFileError, match="borders.LT-PL.trm_csv: .*no TRM"):
        load_market(m)


def test_publication_keeps_igcc_apart_and_tables_isp_energy():
    # A: 30 MW upward satisfied, 10 of them by netting; B: 10 MW downward, all netted
    log = CycleLog(areas=["A", "B"], cycle_s=4.0)
    for k in range(225):
        log.append(4.0 * k, [-5.0, 2.0], [30.0, -10.0], [30.0, 0.0], [0.0, 10.0],
                   [10.0, 0.0], [0.0, 10.0], [60.0, 60.0])
    last = {r["area"]: r for r in publication(log) if r["minute"] == 15}
    a, b = last["A"], last["B"]
    assert a["afrr_up_mw"] == pytest.approx(20.0) and a["igcc_up_mw"] == pytest.approx(10.0)
    assert a["nrv_mw"] == pytest.approx(30.0) and a["si_mw"] == pytest.approx(-35.0)
    assert b["afrr_down_mw"] == 0 and b["igcc_down_mw"] == pytest.approx(10.0)
    assert b["nrv_mw"] == pytest.approx(-10.0) and b["si_mw"] == pytest.approx(12.0)
    rows = {r["area"]: r for r in isp_table(log)}
    assert rows["A"]["isp_start_utc"] == "2026-01-01T01:00:00Z"
    assert rows["A"]["afrr_up_mwh"] == pytest.approx(5.0)        # 20 MW x 0.25 h
    assert rows["A"]["igcc_in_mwh"] == pytest.approx(2.5)        # 10 MW x 0.25 h
    assert rows["B"]["igcc_out_mwh"] == pytest.approx(2.5) and rows["B"]["afrr_down_mwh"] == 0


def test_market_summary_states_acceptance_failures():
    from host.cli_market import (
        acceptance_line,
        acceptance_per_isp,
        acceptance_summary,
        unit_acceptance,
    )
    # the unit is asked for 1000 kW from the start and delivers nothing for one ISP:
    # OGA = UGA = 1000, UTG = 950, 950 kW owed every second, allocable from the 16th (t = 15)
    log = CycleLog(areas=["LT"], cycle_s=4.0, unit_area="LT")
    for k in range(225):
        log.append(4.0 * k, [0.0], [0.0], [0.0], [0.0], [0.0], [0.0], [80.0], 1000.0, 0.0)
    acc = unit_acceptance(log, log.start_utc_s)
    s = acceptance_summary(acc)
    assert s["passed"] is False and s["isps"] == 1 and s["isps_failed"] == 1
    assert s["charged_seconds"] == 885
    assert s["under_kwh_pos"] == pytest.approx(round(885 * 950 / 3600, 3))
    assert "FAILED, 1 of 1 ISPs failed, 885 s charged" in acceptance_line(s)
    rows = settlement(log, extra=acceptance_per_isp(acc, log.start_utc_s))
    assert rows[0]["acc_passed"] is False and rows[0]["acc_charged_s"] == 885
