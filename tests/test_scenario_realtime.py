# A scenario declares real time ([scenario] realtime = true) and `python -m hil run` honours it;
# --realtime / --no-realtime still decide when given.
import json

import pytest

from conftest import ROOT
from hil.__main__ import main
from hil.link import MICROPYTHON
from hil.scenario import ScenarioError, load

SC = """
[scenario]
name = "rt"
duration_s = 4
mode = "local"
%s

[unit]
cycle_ms = 1000

[link]
timeout_ms = 300
retries = 2

[criteria]
steps_failed = { max = 0 }
"""


def test_realtime_key_is_a_checked_bool(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SC % "")
    assert load(p).scenario["realtime"] is False
    p.write_text(SC % "realtime = true")
    assert load(p).scenario["realtime"] is True
    p.write_text(SC % "realtime = 1")
    with pytest.raises(ScenarioError, match=r"\[scenario\] realtime: must be bool"):
        load(p)
    # the shipped real-time scenario declares itself
    assert load(ROOT / "hil" / "scenarios" / "realtime_cut.toml").scenario["realtime"] is True


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no Unix port: make venv")
@pytest.mark.parametrize("flag, mode", [([], "real time"), (["--no-realtime"], "lock-step")])
def test_cli_honours_the_declaration(tmp_path, flag, mode):
    p = tmp_path / "s.toml"
    p.write_text(SC % "realtime = true")
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out), "--no-progress"] + flag) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["mode"] == mode and s["steps"] == 4
    if mode == "lock-step":
        assert s["fw_steps"] == 4  # one step per transaction, not per second of wall time


def test_declared_realtime_on_the_in_process_target_is_one_line(tmp_path, capsys):
    # the cpython target has no clock of its own: a real-time scenario cannot run there
    p = tmp_path / "s.toml"
    p.write_text(SC % "realtime = true")
    assert main(["run", str(p), "--target", "cpython", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--no-realtime" in err
    assert main(["run", str(p), "--target", "cpython", "--no-realtime", "--out",
                 str(tmp_path / "o"), "--no-progress"]) == 0
