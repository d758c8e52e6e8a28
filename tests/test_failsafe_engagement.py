# Fail-safe engagement: in real time measured from the last good write on the firmware's own
# step counter (correct within one cycle whatever the rig's lateness); the report shades the
# cut / loss windows and the time on the fail-safe path.
import json
import types

import pytest

from afrr.controller import F_FAILSAFE
from hil import report
from hil.__main__ import main
from hil.link import MICROPYTHON
from hil.runner import failsafe_engagement, failsafe_spans


def _step(t, fw_steps=None, fs=False, fault_cycles=0, sp_sent=None):
    out = None if fw_steps is None else {
        "steps": fw_steps, "fault_cycles": fault_cycles, "flags": F_FAILSAFE if fs else 0}
    return {"t_s": float(t), "ok": out is not None, "out": out, "sp_sent": sp_sent,
            "retries": 0, "fw_crc_total": 0, "inj_req_corrupted": 0}


def _late_rig_with_a_cut():
    # 1 s cycles; the rig runs late, so the firmware's counter runs ahead of the rig's clock
    # (t + 11 at the last write). The link is cut over [20, 35). The first answer after it
    # (t = 35, counter 49) has been on the fail-safe path for 16 own steps: its first
    # fail-safe step was number 49 - 16 + 1 = 34, i.e. 34 - 30 = 4 steps after the last good
    # write (counter 30 at t = 19): engaged 4 s (one cycle: 3..4 s) after that write.
    steps = [_step(t, t + 11) for t in range(20)]
    steps += [_step(t) for t in range(20, 35)]
    steps += [_step(35, 49, True, 16), _step(36, 50, True, 17)]
    steps += [_step(t, t + 14) for t in range(37, 45)]
    return steps


def test_realtime_engagement_counts_own_cycles_from_the_last_good_write():
    steps = _late_rig_with_a_cut()
    engage, since = failsafe_engagement(steps, [(20.0, 35.0, "cut")], True, 1000)
    assert engage == [4.0] and since == [19.0]
    # the same answers with 2 s cycles: 4 own cycles are 8 s
    assert failsafe_engagement(steps, [(20.0, 35.0, "cut")], True, 2000)[0] == [8.0]


def test_lockstep_engagement_is_the_first_failsafe_answer_after_the_start():
    steps = _late_rig_with_a_cut()
    assert failsafe_engagement(steps, [(20.0, 35.0, "cut")], False, 4000) == ([15.0], [20.0])
    steps = [_step(t, t) for t in range(10)]
    assert failsafe_engagement(steps, [(2.0, 5.0, "cut")], True, 1000) == ([None], [2.0])


def test_realtime_setpoint_loss_counts_from_the_last_setpoint_that_went_through():
    # remote mode, a set-point every 4 s; the one due at t = 8 is lost (loss [8, 20)); the
    # lock-step answer at t = 4, right after the last set-point, had counter 4
    steps = [_step(t, t, sp_sent=100 if t % 4 == 0 else None) for t in range(8)]
    steps += [_step(t, t) for t in range(8, 11)]
    steps += [_step(11, 11, True, 1)]  # first fail-safe step: 11 - 1 + 1 - 4 = 7 cycles
    assert failsafe_engagement(steps, [(8.0, 20.0, "loss")], True, 1000) == ([7.0], [4.0])


def test_a_restart_between_falls_back_to_the_rigs_clock():
    # the counter went back (firmware restarted): own cycles cannot be compared any more
    steps = [_step(t, 100 + t) for t in range(5)] + [_step(5), _step(6, 3, True, 2)]
    assert failsafe_engagement(steps, [(5.0, 6.0, "cut")], True, 1000) == ([0.0], [5.0])
    steps[-1] = _step(9, 3, True, 2)
    assert failsafe_engagement(steps, [(5.0, 6.0, "cut")], True, 1000) == ([2.0], [5.0])


def test_failsafe_spans_join_the_measured_part_and_the_flagged_answers():
    steps = _late_rig_with_a_cut()
    windows = [(20.0, 35.0, "cut")]
    engage, since = failsafe_engagement(steps, windows, True, 1000)
    # engaged at 19 + 4 = 23; answers flagged at 35 and 36, clear at 37 (2 s after the cut)
    assert failsafe_spans(steps, windows, engage, since, [2.0], 45, 1.0) == [[23.0, 37.0]]
    # a flagged run outside any window, still on at the end of the run
    steps = [_step(t, t, fs=t >= 40, fault_cycles=max(0, t - 39)) for t in range(45)]
    assert failsafe_spans(steps, [], [], [], [], 45, 1.0) == [[40.0, 45.0]]


def test_report_shades_cut_and_failsafe_in_every_time_plot(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    calls = []
    real = Axes.axvspan

    def spy(self, lo, hi, **kw):
        calls.append((round(lo, 3), round(hi, 3), kw.get("color")))
        return real(self, lo, hi, **kw)

    monkeypatch.setattr(Axes, "axvspan", spy)
    steps = _late_rig_with_a_cut()
    samples = [{"t_s": t + 1.0, "f_mhz": 50000, "area_ace_kw": 0, "p_set_kw": 0, "p_kw": 0.0,
                "sp_req_kw": 0, "soc": 0.5, "failsafe": False, "link_ok": True}
               for t in range(45)]
    run = types.SimpleNamespace(
        samples=samples, steps=steps, area_name="LT", link=None,
        cfg={"band_up_kw": 1000, "band_down_kw": 1000, "rating_kw": 1000,
             "soc_min_x100": 1000, "soc_max_x100": 9000},
        sc=types.SimpleNamespace(scenario={"mode": "local"}, grid={"start_tod_s": 0},
                                 link={"restarts": []}))
    summary = {"cut_windows_s": [[20.0, 35.0]], "loss_windows_s": [],
               "failsafe_windows_s": [[23.0, 37.0]]}
    written = report._plots(run, None, tmp_path, summary)
    assert written == list(report.PLOTS)  # the failed steps make the link plot
    n_axes = len(report.PLOTS) + 1  # frce.png has two panels: area ACE, the unit's share
    assert calls.count((20.0, 35.0, "0.5")) == n_axes
    assert calls.count((23.0, 37.0, "tab:red")) == n_axes
    assert all((tmp_path / p).stat().st_size > 0 for p in report.PLOTS)


RT = """
[scenario]
name = "rt_cut"
duration_s = 16
mode = "local"
realtime = true

[grid]
scenario = "lt_load_step"

[unit]
cycle_ms = 1000
fat_s = 30
max_age_ms = 3000
hold_cycles = 2

[link]
timeout_ms = 500
retries = 1
cuts = [{ t_s = 4, duration_s = 10 }]

[criteria]
failsafe_never_engaged = { max = 0 }
"""


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no Unix port: make venv")
def test_realtime_cut_engages_within_one_cycle_of_max_age(tmp_path):
    p = tmp_path / "rt.toml"
    p.write_text(RT)
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    # stale once the age passes max_age_ms = 3 s, on the first own step after that: 3..4 s
    # after the last good write (the rig's at t = 3 s, or earlier if that one failed); the
    # 10 s cut leaves the firmware 6 s more to be seen on the fail-safe path
    assert len(s["failsafe_engage_s"]) == 1 and 3.0 <= s["failsafe_engage_s"][0] <= 4.0
    t_w = s["failsafe_engage_from_s"][0]
    assert t_w <= 3.0
    assert s["cut_windows_s"] == [[4.0, 14.0]]
    (lo, hi), = [w for w in s["failsafe_windows_s"] if w[0] < 14.0]
    assert lo == t_w + s["failsafe_engage_s"][0] and hi >= 14.0
