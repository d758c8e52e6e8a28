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
              criteria="", timeout=1000, grid=""):
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



class _LateResponder:
    """A fake firmware on a pty: the real register bank and Modbus codec (CPython), but before
    its answer to every `every`-th lock-step step it sends its previous lock-step answer again,
    as a late reply to the earlier request would arrive. Records p_set_kw per simulated time."""

    def __init__(self, every):
        import threading

        from afrr.config import Config
        from afrr.controller import Controller
        from afrr.modbus import RTU
        from afrr.unitregs import UnitRegisters
        from hil.link import open_pty
        self.master, self.slave, self.path = open_pty()
        cfg = Config()
        self.ctl = Controller(cfg)
        self.bank = UnitRegisters(self.ctl, cfg, unit_id=1, lockstep=True)
        self.rtu = RTU(self.bank)
        self.bank.rtu = self.rtu
        self.every = every
        self.p_set = {}  # sim_time_ms -> p_set_kw the step computed
        self.late_sent = []  # sim_time_ms of the steps whose answer a late one preceded
        self._prev = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        import os
        import select
        rtu, bank = self.rtu, self.bank
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            rtu.feed_bytes(os.read(self.master, 4096))
            while rtu.pending():
                steps = bank.steps
                n = rtu.complete()
                if not rtu.handled:
                    break
                reply = bytes(rtu.tx[:n])
                if reply[1:2] == b"\x17" and bank.steps != steps:  # a lock-step step ran
                    self.p_set[bank.sim_time_ms] = self.ctl.out.p_set_kw
                    if bank.steps % self.every == 0 and self._prev is not None:
                        self.late_sent.append(bank.sim_time_ms)
                        reply = self._prev + reply
                    self._prev = bytes(rtu.tx[:n])
                if n:
                    os.write(self.master, reply)

    def close(self):
        import os
        self._stop.set()
        self._t.join(2)
        os.close(self.master)
        os.close(self.slave)


def test_late_replies_are_counted_and_never_applied(tmp_path):
    fake = _LateResponder(every=5)
    try:
        sc = _scenario(tmp_path, duration=480, criteria="steps_failed = { max = 0 }")
        out = tmp_path / "out"
        assert main(["run", str(sc), "--target", "serial:" + fake.path, "--out", str(out),
                     "--no-progress"]) == 0
    finally:
        fake.close()
    s = json.loads((out / "summary.json").read_text())
    assert s["steps"] == 120 and s["steps_failed"] == 0
    assert len(fake.late_sent) == 120 // 5
    assert s["late_replies"] == len(fake.late_sent) and s["retries"] >= s["late_replies"]
    report = (out / "report.md").read_text()
    assert "| late_replies | %d |" % s["late_replies"] in report
    # every cycle the plant followed the set-point of exactly the step the rig asked for
    rows = _series(out)
    for k in range(120):
        want = fake.p_set[4000 * (k + 1)]
        for r in rows[4 * k:4 * k + 4]:
            assert int(r["p_set_kw"]) == want, (k, r)
    # and the late answers carried another set-point: applying one would have shown
    assert any(fake.p_set[t] != fake.p_set[t - 4000] for t in fake.late_sent)


def test_restarted_firmware_that_never_answers_is_one_line_exit_2(tmp_path, monkeypatch,
                                                                    capsys):
    # the restarted firmware is alive but serves another unit address: it answers nothing
    from hil.link import UnixFirmware
    from hil.runner import Run
    starts = []
    real_start = UnixFirmware.start

    def start(self):
        starts.append(1)
        if len(starts) > 1:
            self.unit = 9
            monkeypatch.setattr(Run, "READY_S", 1.0)  # it never answers: no need to wait 10 s
        return real_start(self)

    monkeypatch.setattr(UnixFirmware, "start", start)
    sc = _scenario(tmp_path, duration=200, link="restarts = [100]")
    assert main(["run", str(sc), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unix: restarted firmware: firmware did not answer")
    assert err.count("\n") == 1 and len(starts) == 2


def test_same_run_idle_and_under_load(tmp_path):
    """Lock-step makes a run independent of the machine's load: a 15-minute scenario run as it
    is and again beside four CPU-burning processes gives the same summary (wall-clock figures
    aside) and the same time series, and a clean link shows no CRC or counter mismatch."""
    sys.path.insert(0, str(ROOT / "tools"))
    from cpuload import burners
    sc = _scenario(tmp_path, duration=900, timeout=2000, grid="start_tod_s = 600",
                   criteria="steps_failed = { max = 0 }")
    wall = ("wall_s", "steps_per_s")
    got = []
    for n_burn in (0, 4):
        out = tmp_path / ("out%d" % n_burn)
        with burners(n_burn) as procs:
            assert main(["run", str(sc), "--out", str(out), "--no-progress"]) == 0
            assert all(p.poll() is None for p in procs)  # the load ran the whole time
        s = json.loads((out / "summary.json").read_text())
        got.append(({k: v for k, v in s.items() if k not in wall},
                    (out / "timeseries.csv").read_text()))
    (s_idle, ts_idle), (s_load, ts_load) = got
    assert s_idle["steps"] == 225 and s_idle["steps_ok"] == 225
    for k in ("fw_crc_errors", "crc_counter_mismatch", "bytes_counter_mismatch", "retries",
              "late_replies", "fw_exceptions", "fw_bytes_dropped"):
        assert s_idle[k] == 0 and s_load[k] == 0, k
    assert s_load == s_idle
    assert ts_load == ts_idle and ts_idle.count("\n") == 901
