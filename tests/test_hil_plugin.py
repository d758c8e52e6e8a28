# The pytest plugin (hil/pytest_plugin.py): dut, grid and rig fixtures on the Unix port.
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT
from hil.link import MICROPYTHON
from hil.testing import DutError, apply_overrides

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no Unix port: make venv")


def test_x(dut):
    dut.configure(band_up_kw=500)
    dut.set_mode("local")
    dut.write("soc_x100", 5000)
    dut.write("f_mhz", 49900)
    assert dut.step(4000).p_set_kw > 0


def test_step_ramps_by_band_over_fat(dut):
    cfg = dut.configure(band_up_kw=500, band_down_kw=200, fat_s=300)
    assert (cfg["band_up_kw"], cfg["band_down_kw"], cfg["rating_kw"]) == (500, 200, 1000)
    dut.set_mode("local")
    dut.write("soc_x100", 5000)
    dut.write("f_mhz", 49900)  # 100 mHz low, K = 500 MW/Hz: ACE = -50 000 kW
    p = []
    for k in range(3):
        out = dut.step(4000)
        assert out.sim_time_ms == 4000 * (k + 1) and out.steps == k + 1 and out.mode == 1
        assert out.ace_kw == -50000 and out.lim_up_kw == 500
        p.append(out.p_set_kw)
    # the activation ramp: the larger band (500 kW) per FAT (300 s), rounded up: 7 kW per 4 s
    assert p == [7, 14, 21]


def test_s32_fields_by_name_and_ace(dut):
    dut.write("tie_kw_0", -2000)  # importing 2 MW
    dut.write("sched_kw", 1000)  # scheduled to export 1 MW
    dut.write("f_mhz", 50000)
    assert dut.read("tie_kw_0") == -2000 and dut.read("sched_kw") == 1000
    dut.set_mode("local")
    out = dut.step(4000)
    assert out.ace_kw == -2000 - 1000  # ACE = sum(ties) - schedule + K * df, df = 0
    assert dut.read("ace_kw") == -3000 and dut.read("p_set_kw") == out.p_set_kw
    dut.write("cap_kwh", 1500)  # a config field by name, two words
    assert dut.read("cap_kwh") == 1500 and dut.configure()["cap_kwh"] == 1500
    assert dut.read("mode") == 1  # in both tables: reads the mode in force (input)


def test_refusals_are_one_line(dut):
    with pytest.raises(DutError, match="band_up_kw=2000.*refused.*exception 03"):
        dut.configure(band_up_kw=2000)  # over rating_kw 1000: a cross-field rule
    assert dut.read("band_up_kw") == 1000  # nothing changed
    with pytest.raises(DutError, match="write soc_x100=10001 refused.*exception 03"):
        dut.write("soc_x100", 10001)
    with pytest.raises(ValueError, match="no_such"):
        dut.read("no_such")
    with pytest.raises(ValueError, match="bogus_field"):
        dut.configure(bogus_field=1)
    with pytest.raises(ValueError, match="input register"):
        dut.write("p_set_kw", 1)
    with pytest.raises(ValueError, match="mode 'auto'"):
        dut.set_mode("auto")
    with pytest.raises(ValueError, match="dt_ms=0"):
        dut.step(0)


def test_remote_setpoint(dut):
    dut.configure(band_up_kw=400, fat_s=30)  # ramp ceil(1000 * 4 / 30) = 134 kW per cycle
    dut.set_mode("remote")
    dut.write("f_mhz", 50000)
    dut.write("soc_x100", 5000)
    p = []
    for _k in range(4):
        dut.write("remote_sp_kw", 300)  # the TSO refreshes its set-point every cycle
        p.append(dut.step(4000).p_set_kw)
    assert p == [134, 268, 300, 300]
    assert dut.read("remote_seq") == 4


def test_restart_keeps_persisted_config(dut):
    dut.configure(band_up_kw=500)
    dut.set_mode("local")
    dut.write("f_mhz", 49900)
    dut.write("soc_x100", 5000)
    before = dut.step(4000)
    assert before.steps == 1
    pid = dut.link.firmware.proc.pid
    dut.restart()
    assert dut.link.firmware.proc.pid != pid  # a new process
    assert dut.read("band_up_kw") == 500  # the configuration came back from the state file
    out = dut.step(4000)
    assert out.steps == 1 and out.lim_up_kw == 500  # the new process ran one step


@pytest.mark.afrr_world("host/worlds/two_area.toml", scenario="step_primary")
def test_grid_marker(grid):
    assert grid.names == ["area1", "area2"] and grid.scenario.name == "step_primary"


def test_grid_default_baltic(grid):
    assert "LT" in grid.names and grid.world.name == "baltic"


def test_dut_against_grid(dut, grid):
    # the measurements the emulator gives an LT unit go to the firmware unchanged
    grid.add_unit("dut", area="LT")
    grid.advance(4000)
    m = grid.unit_measurements("dut")
    dut.configure(n_ties=len(m["ties_kw"]))
    dut.write("f_mhz", m["f_mhz"])
    dut.write("sched_kw", m["sched_kw"])
    for i, t in enumerate(m["ties_kw"]):
        dut.write("tie_kw_%d" % i, t)
    k = dut.read("k_mw_hz")
    out = dut.step(4000)
    assert out.ace_kw == sum(m["ties_kw"]) - m["sched_kw"] + k * (m["f_mhz"] - 50000)


def test_rig_result(rig):
    r = rig.run("hil/scenarios/default.toml", duration_s=120)
    assert r.summary["steps"] == 30 and r.summary["scenario"] == "default"
    assert len(r.timeseries["t_s"]) == 120 and r.timeseries["p_set_kw"].max() <= 1000
    assert (r.report_dir / "summary.json").exists()
    assert (r.report_dir / "scenario.toml").read_text().count("duration_s = 120") == 1
    # the NordBalt trip at 60 s: 60 s of response cannot meet the 1 h scenario's energy bound
    assert not r.passed and any(f.startswith("energy_up_kwh = ") for f in r.failed)
    assert "energy_up_kwh" in repr(r) and str(r.report_dir) in repr(r)
    ok = rig.run("hil/scenarios/default.toml", duration_s=120, grid={"scenario": "quiet"},
                 criteria={"energy_up_kwh": {"min": 0}, "p_set_max_kw": {"min": 0},
                           "acceptance_passed": {"min": 0}})
    assert ok.passed and ok.report_dir != r.report_dir and ok.failed == []


def test_rig_overrides():
    data = {"scenario": {"duration_s": 900}, "link": {"seed": 1}}
    got = apply_overrides(data, {"duration_s": 60, "band_up_kw": 5, "link": {"drop_rate": 0.1}})
    assert got == {"scenario": {"duration_s": 60}, "unit": {"band_up_kw": 5},
                   "link": {"seed": 1, "drop_rate": 0.1}}
    assert data["scenario"]["duration_s"] == 900  # the input is left alone
    with pytest.raises(ValueError, match=r"seed is a key of \[scenario\] and \[link\]"):
        apply_overrides(data, {"seed": 3})
    with pytest.raises(ValueError, match="no scenario table"):
        apply_overrides(data, {"nonsense": 3})


def _installed_here():
    """True when this venv's installed project is this checkout (make venv), so a pytest in
    a folder outside the repo loads the plugin through its entry point alone."""
    import os

    r = subprocess.run([sys.executable, "-c", "import hil.pytest_plugin as p; print(p.__file__)"],
                       cwd=tempfile.gettempdir(), capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    return r.returncode == 0 and pathlib.Path(r.stdout.strip()) == ROOT / "hil" / "pytest_plugin.py"


def test_readme_example_runs_outside_the_repo(tmp_path):
    import os
    import xml.etree.ElementTree as ET

    if not _installed_here():
        if os.environ.get("CI"):
            pytest.fail("the project is not installed into this venv (make venv)")
        pytest.skip("the project is not installed into this venv from here: make venv")
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Write a HIL test"):]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "test_my_unit.py").write_text(example)
    (tmp_path / "test_short.py").write_text(
        "def test_short(rig):\n"
        "    assert rig.run('hil/scenarios/default.toml', duration_s=120).passed\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                        "test_my_unit.py", "test_short.py", "--afrr-target", "unix",
                        "--afrr-out", "out", "--junitxml", "junit.xml"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout + r.stderr  # the README's two pass, test_short fails
    assert "1 failed, 2 passed" in r.stdout, r.stdout
    # the failed criterion is in the assertion message
    assert re.search(r"where False = RigResult\(default FAIL: .*energy_up_kwh = ", r.stdout)
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").iter("testcase")}
    assert set(cases) == {"test_deficit_gives_upward_power", "test_nordbalt_trip", "test_short"}
    assert cases["test_short"].find("failure") is not None
    assert "energy_up_kwh" in cases["test_short"].find("failure").get("message")
    props = {p.get("name"): p.get("value")
             for p in cases["test_nordbalt_trip"].iter("property")}
    report = pathlib.Path(props["afrr_report"])
    assert report.is_relative_to(tmp_path / "out")
    assert json.loads((report / "summary.json").read_text())["passed"] is True
    fw_log = tmp_path / "out" / "test_my_unit.py_test_deficit_gives_upward_power" / "firmware.log"
    assert fw_log.exists()


def test_bad_option_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                        "--afrr-target", "usb", str(tmp_path)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 4
    assert "argument --afrr-target: unknown target 'usb': use unix, cpython, qemu or serial:PORT" \
        in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for board, msg in (("nope", "ERROR: --afrr-board nope: unknown board (known: "),
                       ("rp2_pico", "ERROR: --afrr-board rp2_pico: the unix target runs the "
                                    "unix board; use --afrr-target serial:PORT for a board")):
        r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                            "--afrr-board", board, str(tmp_path)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 4 and msg in r.stderr, r.stderr
        assert "Traceback" not in r.stderr + r.stdout


def test_failsafe_hold_then_ramp_then_resume(dut):
    from afrr.controller import F_FAILSAFE

    # ramp per 4 s cycle: ceil(500 kW * 4 s / 30 s) = 67 kW
    dut.configure(band_up_kw=500, band_down_kw=500, fat_s=30, hold_cycles=3)
    dut.set_mode("local")
    dut.write("soc_x100", 5000)
    dut.write("f_mhz", 49900)
    p = [dut.step(4000).p_set_kw for _k in range(9)]
    assert p == [67, 134, 201, 268, 335, 402, 469, 500, 500]
    dut.write("f_mhz", 0)  # no valid frequency: a faulty cycle
    outs = [dut.step(4000) for _k in range(5)]
    assert all(o.flags & F_FAILSAFE for o in outs)
    # hold the last set-point for hold_cycles cycles, then ramp to 0 at band/FAT
    assert [o.p_set_kw for o in outs] == [500, 500, 500, 433, 366]
    dut.write("f_mhz", 49900)  # good input again: resume from the present set-point, no bump
    back = dut.step(4000)
    assert not back.flags & F_FAILSAFE and back.p_set_kw == 366 + 67


def test_firmware_boots_with_the_board_data(dut, afrr_board):
    assert dut.board is afrr_board and afrr_board.NAME == "unix"
    cfg = dut.configure()
    assert cfg["rating_kw"] == afrr_board.UNIT_DEFAULTS["rating_kw"]
    assert {k: cfg[k] for k in afrr_board.UNIT_DEFAULTS} == afrr_board.UNIT_DEFAULTS


def test_serial_target_on_a_pty(tmp_path):
    # a serial:PORT target is whatever answers on PORT: here the Unix port behind the proxy
    from hil.link import Link, UnixFirmware
    from hil.testing import Dut, TargetUnavailable

    lk = Link(UnixFirmware()).open()
    try:
        d = Dut("serial:" + lk.client_path, out_dir=tmp_path).start()
        try:
            d.configure(band_up_kw=500)
            d.set_mode("local")
            d.write("soc_x100", 5000)
            d.write("f_mhz", 50100)  # surplus: downward
            assert d.step(4000).p_set_kw == -14  # ceil(1000 * 4 / 300), the larger band
            with pytest.raises(TargetUnavailable, match="cannot restart the firmware on serial:"):
                d.restart()
        finally:
            d.stop()
    finally:
        lk.close()
    assert not (tmp_path / "firmware.log").exists()  # the rig did not run that firmware


def test_qemu_target_unavailable_is_one_line(monkeypatch):
    import importlib.machinery
    import types

    from hil.testing import Dut, TargetUnavailable, target_available

    fake = types.ModuleType("hil.qemu")
    fake.__spec__ = importlib.machinery.ModuleSpec("hil.qemu", None)
    fake.not_ready = lambda: "no qemu-system-arm on PATH"
    monkeypatch.setitem(sys.modules, "hil.qemu", fake)
    with pytest.raises(TargetUnavailable, match="^target qemu: no qemu-system-arm on PATH$"):
        target_available("qemu")
    with pytest.raises(TargetUnavailable):
        Dut("qemu").start()


def test_firmware_exit_is_one_line(dut):
    dut.link.firmware.kill()  # as a crash would
    with pytest.raises(DutError, match="^step to sim_time_ms=4000: firmware exited"):
        dut.step(4000)


def test_overrides_written_as_toml(rig):
    r = rig.run("hil/scenarios/default.toml", duration_s=60,
                scenario={"description": 'two\nlines "quoted"'},
                link={"cuts": [{"t_s": 20, "duration_s": 8}]},
                criteria={"steps_failed": {"max": 99}})
    import tomllib

    data = tomllib.loads((r.report_dir / "scenario.toml").read_text())
    assert data["scenario"]["description"] == 'two\nlines "quoted"'
    assert data["link"]["cuts"] == [{"t_s": 20, "duration_s": 8}]
    assert data["criteria"]["steps_failed"] == {"max": 99}
    assert r.summary["steps"] == 15 and r.summary["steps_failed"] >= 2  # the cut's cycles


def test_rig_bad_scenario_is_one_line(rig, tmp_path):
    from hil.testing import RigError

    with pytest.raises(RigError, match=r"^rig.run\(nowhere.toml\): nowhere.toml: cannot read"):
        rig.run("nowhere.toml")
    with pytest.raises(RigError, match=r"\[unit\]: .*cap_kwh"):
        rig.run("hil/scenarios/default.toml", cap_kwh=0)


def _ramp(d):
    d.configure(band_up_kw=500, band_down_kw=300, fat_s=60, ti_s=50)
    d.set_mode("local")
    d.write("soc_x100", 5000)
    outs = []
    for f in (49900, 49900, 49950, 50000, 50080, 50080, 50020):
        d.write("f_mhz", f)
        o = vars(d.step(4000))
        outs.append({k: v for k, v in o.items() if k not in ("frames_ok", "exceptions")})
    return outs


def test_cpython_target_gives_the_unix_port_outputs(dut):
    from hil.testing import Dut, TargetUnavailable

    d = Dut("cpython").start()
    try:
        assert _ramp(d) == _ramp(dut)  # the same firmware modules, bit-identical
        with pytest.raises(TargetUnavailable, match="cannot restart the firmware on cpython"):
            d.restart()
    finally:
        d.stop()
