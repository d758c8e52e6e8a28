# FRCE quality (SO GL Art. 128), Annex III frequency quality, ISP energy and the Elia table.
import numpy as np
import pytest

from host.metrics import elia_minute_table, frce_quality, frequency_quality, isp_energy


def test_frce_quality_counts_intervals():
    # 10 intervals of 900 s at 1 s: 3 with mean 20 MW (> L1 = 10), 1 of them 40 MW (> L2 = 30)
    x = np.zeros(9000)
    x[0:900] = 20.0
    x[900:1800] = -20.0
    x[1800:2700] = 40.0
    r = frce_quality(x, 1.0, 10.0, 30.0)
    assert r["intervals"] == 10
    assert r["share_outside_level1"] == pytest.approx(0.3)
    assert r["share_outside_level2"] == pytest.approx(0.1)
    assert not r["level1_ok"] and not r["level2_ok"]
    r = frce_quality(x, 1.0, 10.0, 50.0, interval_s=1800)
    assert r["intervals"] == 5
    assert r["share_outside_level1"] == pytest.approx(0.2)  # +-20 cancel in the first pair
    assert r["level2_ok"]


def test_frequency_quality_hand_built():
    dt = 0.1
    df = np.zeros(36000)               # 1 h at 100 ms
    df[1000:1000 + 6000] = -0.060      # 10 min at -60 mHz: outside the standard range
    df[20000:20010] = np.linspace(0, 0.1, 10)   # a fast ramp: 0.1 Hz in 0.9 s
    df[20010:20600] = 0.1
    r = frequency_quality(df, dt)
    assert r["minutes_outside_standard"] == pytest.approx(10.0 + 0.1 * 596 / 60, abs=0.02)
    assert r["max_abs_df_mhz"] == pytest.approx(100.0)
    assert r["longest_excursion_s"] == pytest.approx(600.0)
    assert r["excursions_over_alert_trigger"] == 1
    assert r["time_to_restore_ok"]
    # steepest 500 ms window: the 100 mHz drop back to 0 in one sample, seen over 0.5 s
    assert r["max_rocof_hz_s"] == pytest.approx(0.1 / 0.5, rel=1e-6)
    smooth = np.zeros(3000)               # the same ramp with gentle edges elsewhere
    smooth[1000:1010] = np.linspace(0, 0.1, 10)
    smooth[1010:1500] = 0.1
    smooth[1500:2500] = np.linspace(0.1, 0.0, 1000)
    r = frequency_quality(smooth, dt)
    assert r["max_rocof_hz_s"] == pytest.approx(5 * 0.1 / 9 / 0.5, rel=1e-6)
    assert r["max_instantaneous_ok"]


def test_isp_energy_up_and_down():
    t = np.arange(0, 1800.0, 1.0)
    p = np.where(t < 900, 40.0, -20.0)          # MW
    g = np.where(t < 900, -8.0, 4.0)            # netting: import 8 MW, then export 4 MW
    rows = isp_energy(t, p, 900, igcc_export_mw=g)
    assert [r["isp_start_utc"] for r in rows] == ["2026-01-01T01:00:00Z", "2026-01-01T01:15:00Z"]
    assert rows[1]["isp_end_utc"] == "2026-01-01T01:30:00Z"
    assert rows[0]["afrr_up_mwh"] == pytest.approx(10.0) and rows[0]["afrr_down_mwh"] == 0
    assert rows[1]["afrr_down_mwh"] == pytest.approx(5.0) and rows[1]["afrr_up_mwh"] == 0
    assert rows[0]["igcc_in_mwh"] == pytest.approx(2.0) and rows[0]["igcc_out_mwh"] == 0
    assert rows[1]["igcc_out_mwh"] == pytest.approx(1.0) and rows[1]["igcc_in_mwh"] == 0


def test_elia_minute_table_averages_elapsed_part():
    t = np.arange(0, 900.0, 1.0)
    ace = np.where(t < 60, -10.0, 0.0)
    afrr = np.where(t < 120, 0.0, 30.0)
    igcc = np.full_like(t, -5.0)                # importing 5 MW through netting: IGCC+
    rows = elia_minute_table(t, ace, afrr, igcc, 900)
    assert len(rows) == 15 and rows[0]["minute"] == 1 and rows[-1]["minute"] == 15
    r1, r3 = rows[0], rows[2]
    assert r1["ace_mw"] == pytest.approx(-10.0)
    assert r1["igcc_up_mw"] == pytest.approx(5.0) and r1["igcc_down_mw"] == 0
    assert r1["si_mw"] == pytest.approx(-10.0 - 5.0)         # SI = ACE - NRV
    assert r1["nrv_mw"] == pytest.approx(5.0)                # IGCC+ only, not inside aFRR+
    assert r1["afrr_up_mw"] == 0
    assert (r1["isp_start_utc"], r1["minute_start_utc"], r1["minute_end_utc"]) == (
        "2026-01-01T01:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:01:00Z")
    assert r3["ace_mw"] == pytest.approx(-10.0 / 3)
    assert r3["afrr_up_mw"] == pytest.approx(10.0)          # 30 MW over 1 of 3 minutes
    assert r3["si_mw"] == pytest.approx(-10.0 / 3 - 10.0 - 5.0)


def test_exactly_50_mhz_in_float32_is_inside_the_standard_range():
    df = np.full(600, 0.050, dtype=np.float32)      # float32(0.05) = 0.0500000007 Hz
    assert float(df[0]) > 0.05
    r = frequency_quality(df, 1.0)
    assert r["minutes_outside_standard"] == 0 and r["excursions"] == 0
    assert r["max_abs_df_mhz"] == 50.0
    df[100] = np.float32(-0.0500011)                 # 1.1 uHz beyond: outside, one sample
    r = frequency_quality(df, 1.0)
    assert r["excursions"] == 1 and r["minutes_outside_standard"] == pytest.approx(1 / 60)
    edge = np.full(10, 0.8, dtype=np.float32)        # exactly the 800 mHz instantaneous limit
    assert frequency_quality(edge, 1.0)["max_instantaneous_ok"]
    ss = np.full(10, 0.2, dtype=np.float32)          # exactly 200 mHz: not over the limit
    assert frequency_quality(ss, 1.0)["seconds_over_steady_state_limit"] == 0


def test_rocof_window_reports_what_the_data_allow():
    df = np.zeros(100)
    df[50:] = 0.1                                     # a 100 mHz step between two samples
    r = frequency_quality(df, 1.0)                    # 500 ms asked, 1 s data: 1 s window
    assert r["rocof_window_s"] == 1.0 and r["rocof_window_requested_s"] == 0.5
    assert r["max_rocof_hz_s"] == pytest.approx(0.1)
    r = frequency_quality(df, 0.1)                    # 100 ms data: 5 samples = 0.5 s
    assert r["rocof_window_s"] == pytest.approx(0.5)
    assert r["max_rocof_hz_s"] == pytest.approx(0.2)


def test_frce_mean_equal_to_the_level_is_inside():
    x = np.full(300, 0.7)                             # the mean is 0.7000000000000001 in float
    assert x.mean() > 0.7
    r = frce_quality(x, 1.0, 0.7, 0.9, interval_s=300)
    assert r["share_outside_level1"] == 0
    r = frce_quality(np.full(300, 0.700002), 1.0, 0.7, 0.9, interval_s=300)   # 2 W beyond
    assert r["share_outside_level1"] == 1
