# State-of-charge management on the host side: OU frequency, participation factor from the world,
# time at the guard, acceptance per ISP on delivered minus baseline, cycles; one rig run.
import numpy as np
import pytest

from conftest import ROOT
from hil import socmetrics
from hil.runner import Run, summarize
from hil.scenario import load
from host.grid import Simulator
from host.grid.scenario import ou_frequency


def test_ou_frequency_is_seeded_and_has_the_asked_statistics():
    t, df = ou_frequency(3, 72, 20.0, 300.0, 10.0)
    assert len(t) == 72 * 3600 + 1 and t[1] - t[0] == 1.0
    t2, df2 = ou_frequency(3, 72, 20.0, 300.0, 10.0)
    assert np.array_equal(df, df2)  # reproducible
    assert not np.array_equal(df, ou_frequency(4, 72, 20.0, 300.0, 10.0)[1])
    mhz = df * 1000.0
    # OU part: std 20 mHz; over a day (288 correlation times) the sample std is within 15 %
    for d in range(3):
        day = mhz[d * 86400:(d + 1) * 86400]
        assert 17.0 < (day - day.mean()).std() < 23.0
        # the day's mean: its drawn offset (|m| <= 10) plus the OU's own mean over the day,
        # std 20 * sqrt(2 * 300 / 86400) = 1.7 mHz: inside +-10 + 4 * 1.7
        assert abs(day.mean()) < 10.0 + 4 * 1.7
    # without the OU part, df is the day's mean exactly, held over the day, |m| <= 10 mHz
    _t, flat = ou_frequency(3, 48, 0.0, 300.0, 10.0)
    days = [flat[:86400], flat[86400:172800]]
    for day in days:
        assert np.all(day == day[0]) and abs(day[0]) <= 0.010
    assert days[0][0] != days[1][0]


def test_world_scenario_imposes_the_ou_frequency():
    sim = Simulator(ROOT / "host/worlds/baltic.toml", "ou_days", seed=5, step_ms=1000)
    _t, df = ou_frequency(5, 72.0, 20.0, 300.0, 10.0)
    for k in range(1, 31):
        sim.advance(1000)
        assert sim.area_state("LT")["df_mhz"] == pytest.approx(df[k] * 1000.0, abs=1e-9)


def test_share_from_bands():
    # 800 kW of LT's 120 MW: 800 / 120 000 = 6666.7 ppm -> 6667; 1 MW: 8333
    assert socmetrics.share_ppm(800, 120.0) == 6667
    assert socmetrics.share_ppm(1000, 120.0) == 8333
    assert socmetrics.share_ppm(5000, 1.0) == 1000000  # a unit larger than the area: all
    assert socmetrics.share_ppm(1, 1e6) == 1  # never 0
    assert socmetrics.share_ppm(800, 0.0) == 1000000


def test_isp_share_counts_whole_isps_without_charged_seconds():
    # the verdicts come from host.metrics.evaluate; only whole ISPs count
    class R:
        isps = [{"seconds": 900, "passed": True}, {"seconds": 900, "passed": False},
                {"seconds": 450, "passed": False}]
    assert socmetrics.isp_share(R) == (2, 1)
    assert socmetrics.isp_share(None) == (0, 0)


def test_isp_share_on_a_late_unit():
    # set-point 0 then 500 kW from t = 100 s; the unit answers 0 until t = 400 s: after the
    # 31 s grace the acceptance band's lower bound climbs and the unit at 0 is under it for
    # long enough to be charged in ISP 0; ISP 1 (unit at 500 kW) passes
    from host.metrics import evaluate
    sp = [0.0] * 100 + [500.0] * 1700
    p = [0.0] * 400 + [500.0] * 1400
    judged, passed = socmetrics.isp_share(evaluate(sp, p, 0))
    assert (judged, passed) == (2, 1)


def test_guard_share_and_cycles_by_hand():
    steps = [{"out": {"flags": 0x1000 if k < 3 else 0}} for k in range(20)] + [{"out": None}]
    assert socmetrics.guard_share(steps) == 3 / 20
    # 500 kW for a day, then -500 kW for a day, 2000 kWh: 24 000 kWh through the connection
    # in 2 days / (2 * 2000) = 3 cycles per day
    samples = [{"p_kw": 500.0}] * 86400 + [{"p_kw": -500.0}] * 86400
    assert socmetrics.cycles_per_day(samples, 2000) == pytest.approx(3.0)


def _scenario(tmp_path, soc, mode="local"):
    text = (ROOT / "hil/scenarios/soc_days_local.toml").read_text()
    text = text.replace("duration_s = 259200", "duration_s = 3600")
    text = text.replace('mode = "local"', 'mode = "%s"' % mode)
    text = text.replace("soc = 0.5", "soc = %s" % soc)
    p = tmp_path / "soc.toml"
    p.write_text(text)
    return load(p)


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_rig_runs_the_declared_baseline_through_modbus(tmp_path, mode):
    # 75 % at the start: ISP 0 runs at baseline 0 and declares, for ISP 1, the power that
    # would bring 75 % to 50 % in 15 min, 25 % of 2000 kWh / 0.25 h = 2000 kW, bounded by
    # the room 1000 - 800 = 200 kW (discharge)
    run = Run(_scenario(tmp_path, 0.75, mode), progress=False)
    run.execute()
    summary, _acc = summarize(run)
    assert run.cfg["share_ppm"] == 6667  # from the world: 800 kW of LT's 120 MW
    by_isp = {}
    for s in run.steps:
        by_isp.setdefault(int(s["t_s"] // 900), set()).add(s["out"]["base_kw"])
    assert by_isp[0] == {0}
    assert by_isp[1] == {200}
    first = run.steps[0]["out"]
    assert first["base_next_kw"] == 200
    # the baseline moves the SoC down: 200 kW for 45 min at 95 % is 158 kWh = 7.9 %, more
    # than any aFRR drift of the unit's 6667 ppm share over the hour
    assert run.samples[-1]["soc"] < 0.75 - 0.05
    assert summary["setpoint_violations"] == 0
    assert summary["acceptance_isps_whole"] == 4 and summary["acceptance_isp_share"] == 1.0
    assert summary["soc_guard_share"] == 0.0
    assert summary["isp_energy_mismatch_wh"] < 2.0  # firmware counts aFRR only, like the rig
