# End to end: the rig drives the Unix-port firmware through the emulator; report numbers checked.
import csv
import json
import pathlib
import subprocess
import sys

import pytest

from hil.__main__ import main
from hil.link import MICROPYTHON
from hil.scenario import ScenarioError, load

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no Unix port: make venv")

SHORT = """
[scenario]
name = "short"
duration_s = %(duration)d
mode = "%(mode)s"

[grid]
world = "host/worlds/baltic.toml"
scenario = "nordbalt_trip"
area = "LT"
%(grid)s

[unit]
band_up_kw = 1000
band_down_kw = 1000
rating_kw = 1000
%(unit)s

[link]
timeout_ms = %(timeout)d
retries = 2
%(link)s

[criteria]
setpoint_violations = { max = 0 }
%(criteria)s
"""


def _scenario(tmp_path, name="s.toml", duration=480, mode="local", unit="", link="",
              criteria="", timeout=200, grid=""):
    p = tmp_path / name
    p.write_text(SHORT % {"duration": duration, "mode": mode, "unit": unit, "link": link,
                          "criteria": criteria, "timeout": timeout, "grid": grid})
    return p


def _series(out):
    with open(out / "timeseries.csv") as f:
        return list(csv.DictReader(f))


def test_default_scenario_loads():
    sc = load(ROOT / "hil" / "scenarios" / "default.toml")
    assert sc.scenario["duration_s"] <= 3600 and sc.criteria


def test_lockstep_run_report_numbers(tmp_path, capsys):
    sc = _scenario(tmp_path, criteria="steps_failed = { max = 0 }\nenergy_up_kwh = { min = 1 }",
                   grid="start_tod_s = 600")  # an ISP boundary 300 s into the run
    out = tmp_path / "out"
    assert main(["run", str(sc), "--target", "unix", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "PASS" in printed and str(out) in printed
    s = json.loads((out / "summary.json").read_text())
    assert s["passed"] and s["steps"] == 120 and s["steps_ok"] == 120
    from hil.scenario import METRICS
    assert {m for m in METRICS if not m.startswith(("revenue", "market_"))} <= set(s)
    assert s["fw_steps"] == 120  # exactly one firmware step per lock-step transaction
    assert s["fw_crc_errors"] == 0 and s["fw_exceptions"] == 0 and s["retries"] == 0
    # the firmware's ISP energy counter equals the set-point energy the rig integrated (floor Wh)
    assert s["isp_energy_checked"] == 1 and s["isp_energy_mismatch_wh"] <= 1.0
    rows = _series(out)
    assert len(rows) == 480 == s["sim_seconds"]
    p_set = [int(r["p_set_kw"]) for r in rows]
    assert all(-1000 <= p <= 1000 for p in p_set)
    assert p_set[50] == 0 and max(p_set) == s["p_set_max_kw"] > 0  # upward after the trip
    # the set-point ramp respects the full activation time: band / FAT per 4 s cycle
    assert max(b - a for a, b in zip(p_set, p_set[1:])) <= 1000 * 4 / 300 + 1
    e_up = sum(max(0.0, float(r["p_kw"])) for r in rows) / 3600.0
    assert abs(e_up - s["energy_up_kwh"]) < 0.01
    for name in ("report.md", "report.html", "frequency.png", "frce.png", "setpoint.png",
                 "soc.png"):
        assert (out / name).stat().st_size > 0
    assert not (out / "link.png").exists()  # a clean link: one line in the report instead
    assert "Link errors: none" in (out / "report.md").read_text()
    # lock-step is deterministic: a second run gives the same series, value for value
    out2 = tmp_path / "out2"
    assert main(["run", str(sc), "--out", str(out2), "--no-progress"]) == 0
    assert _series(out2) == rows


def test_fault_injection_counters_and_limits(tmp_path):
    link = ("drop_rate = 0.0005\nflip_rate = 0.0005\ncuts = [{ t_s = 200, duration_s = 20 }]\n"
            "restarts = [400]\nseed = 3")
    sc = _scenario(tmp_path, duration=600, link=link, timeout=50,
                   criteria="crc_counter_mismatch = { max = 0 }")
    out = tmp_path / "out"
    assert main(["run", str(sc), "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["injected_req_frames_corrupted"] > 0
    assert s["fw_crc_errors"] == s["injected_req_frames_corrupted"]
    assert s["bytes_counter_mismatch"] == 0 and s["fw_bytes_dropped"] > 0
    assert s["injected_req_frames_lost"] >= 5  # the cut swallowed every try of its steps
    assert s["setpoint_violations"] == 0 and s["restarts"] == 1
    assert s["failsafe_engage_s"][0] is not None  # the gap after the cut is a fault
    rows = _series(out)
    assert all(-1000 <= float(r["p_set_kw"]) <= 1000 for r in rows)
    # control resumes after the cut and after the restart
    after = [r for r in rows if float(r["t_s"]) > 560]
    assert all(r["link_ok"] == "1" for r in after[-20:]) or s["steps_failed"] < 30
    assert s["fw_steps"] == (600 - 400) // 4  # the restarted firmware ran the rest


def test_remote_mode_setpoint_loss(tmp_path):
    remote = ("[remote]\nsetpoints = [{ t_s = 0, sp_kw = 600 }, { t_s = 200, sp_kw = -400 }]\n"
              "loss = [{ t_s = 300, duration_s = 100 }]")
    sc = _scenario(tmp_path, duration=480, mode="remote", unit="hold_cycles = 2\nfat_s = 30",
                   criteria="failsafe_never_engaged = { max = 0 }\n" + remote)
    out = tmp_path / "out"
    assert main(["run", str(sc), "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["p_set_max_kw"] == 600 and s["p_set_min_kw"] == -400
    # documented loss rule: set-point lost after remote_timeout_cycles, then hold, then ramp
    assert s["failsafe_engage_s"][0] <= 4 * (2 + 1)
    rows = _series(out)
    at = {int(float(r["t_s"])): int(r["p_set_kw"]) for r in rows}
    assert at[299] == -400 and abs(at[399]) < 400  # ramping toward 0 during the loss


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    bad = _scenario(tmp_path, name="bad.toml", unit="cap_kwh = 0")
    assert main(["run", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cap_kwh" in err and err.count("\n") == 1
    p = tmp_path / "crit.toml"
    p.write_text("[criteria]\nno_such_metric = { max = 1 }\n")
    with pytest.raises(ScenarioError, match="no_such_metric.*unknown metric"):
        load(p)
    p = tmp_path / "typo.toml"
    p.write_text("[scenario]\nduraton_s = 5\n")
    with pytest.raises(ScenarioError, match="duraton_s"):
        load(p)
    r = subprocess.run([sys.executable, "-m", "hil", "run", str(p), "--no-progress"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "duraton_s" in r.stderr


def test_regmap_markdown_cli(capsys):
    assert main(["regmap", "--markdown"]) == 0
    md = capsys.readouterr().out
    assert "| holding | 0x001A | sim_time_ms |" in md and "cfg.cycle_ms" in md


def test_serial_target_against_a_separately_started_firmware(tmp_path):
    """`--target serial:PATH` (a board) exercised with the Unix-port firmware behind a pty."""
    from hil.link import Link, UnixFirmware
    link = Link(UnixFirmware()).open()
    try:
        sc = _scenario(tmp_path, duration=120, criteria="steps_failed = { max = 0 }")
        out = tmp_path / "out"
        assert main(["run", str(sc), "--target", "serial:" + link.client_path, "--out",
                     str(out), "--no-progress"]) == 0
        s = json.loads((out / "summary.json").read_text())
        assert s["target"] == "serial:" + link.client_path and s["fw_steps"] == 30
    finally:
        link.close()


def test_realtime_firmware_steps_on_its_own_clock(tmp_path):
    sc = _scenario(tmp_path, duration=4, unit="cycle_ms = 1000",
                   criteria="steps_failed = { max = 0 }")
    out = tmp_path / "out"
    assert main(["run", str(sc), "--realtime", "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["mode"] == "real time" and s["steps"] == 4
    assert 2 <= s["fw_steps"] <= 6  # about one step per second of wall time


def test_market_driven_remote_run_settles(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('[scenario]\nname = "m"\nduration_s = 400\nmode = "remote"\n'
                 '[market]\nfile = "host/worlds/baltic_market.toml"\n'
                 'scenario = "nordbalt_trip"\n'
                 '[criteria]\nsetpoint_violations = { max = 0 }\n')
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["steps"] == 100 and s["fw_steps"] == 100
    assert s["energy_up_kwh"] > 0
    # the market settles exactly the energy the plant delivered behind the firmware
    assert abs(s["market_energy_up_kwh"] - s["energy_up_kwh"]) < 1e-3
    assert abs(s["revenue_eur"] - sum(r["revenue_eur"] for r in s["settlement"])) < 0.01
    from hil.scenario import METRICS
    assert set(METRICS) <= set(s)
    assert "Settlement per ISP" in (out / "report.md").read_text()
    rows = _series(out)
    assert max(int(r["p_set_kw"]) for r in rows) <= s["limit_up_kw"]

