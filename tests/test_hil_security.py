# The security scenario end to end on the Unix port: another master injects forged, replayed,
# reordered and broadcast frames and plain writes through the fault proxy; every one is refused
# and the unit follows the authentic stream. And the check has teeth: the same run against a
# firmware whose protection is cut out fails.
import csv
import json
import re
import shutil

import pytest

import hil.link
from conftest import ROOT
from hil.__main__ import main
from hil.link import MICROPYTHON
from hil.scenario import load

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no Unix port: make venv")

SCENARIO = ROOT / "hil" / "scenarios" / "security.toml"
# per round (hil/auth.py Attacker): forged 2, replay 1, reorder 1, broadcast 5, plain 4
PER_ROUND = 2 + 1 + 1 + 5 + 4


def _short(tmp_path, duration):
    text = SCENARIO.read_text()
    text = re.sub(r"duration_s = \d+", "duration_s = %d" % duration, text)
    text = text.replace("attack_frames = { min = 100 }", "attack_frames = { min = 1 }")
    p = tmp_path / "security.toml"
    p.write_text(text)
    return p


def _summary(out):
    return json.loads((out / "summary.json").read_text())


def test_security_scenario_every_injected_frame_refused(tmp_path, capsys):
    sc = load(SCENARIO)
    assert sc.link["auth"] and set(sc.attack["kinds"]) == {
        "forged", "replay", "reorder", "broadcast", "plain"}
    out = tmp_path / "out"
    # rounds at 20, 80, 140, 200 s (start_s 20, period_s 60) in a 240 s run
    rc = main(["run", str(_short(tmp_path, 240)), "--out", str(out), "--no-progress"])
    s = _summary(out)
    assert rc == 0, [c for c in s["criteria"] if not c["ok"]]
    assert s["attack_frames"] == 4 * PER_ROUND
    assert (s["attack_accepted"], s["attack_no_reply"], s["attack_setpoint_mismatch"],
            s["attack_state_changed"]) == (0, 0, 0, 0)
    # the unit followed the authentic stream (+300 kW scripted until 200 s, reached on the
    # band/FAT ramp), never the attacker's -777 kW
    assert s["p_set_max_kw"] == 300
    with open(out / "timeseries.csv") as f:
        rows = list(csv.DictReader(f))
    early = [float(r["p_set_kw"]) for r in rows if float(r["t_s"]) <= 200]
    assert len(early) == 200 and min(early) >= 0
    # every refusal answered exception 01 (the broadcasts 5 per round get no answer)
    assert s["fw_exceptions"] == 4 * (PER_ROUND - 5)


def test_without_the_protection_the_scenario_fails(tmp_path, monkeypatch):
    # a copy of the firmware with the write lock and the MAC check cut out
    fw = tmp_path / "fw"
    shutil.copytree(ROOT / "firmware", fw / "firmware")
    shutil.copytree(ROOT / "boards", fw / "boards")
    ur = fw / "firmware" / "afrr" / "unitregs.py"
    src = ur.read_text()
    assert "        if bad:\n" in src
    ur.write_text(src.replace("        if bad:\n", "        if False:\n"))
    au = fw / "firmware" / "afrr" / "auth.py"
    src = au.read_text()
    assert "        if d:\n            return False\n" in src
    replay = "            return False\n        msg = self.msg"
    au.write_text(src.replace("        if d:\n            return False\n", "").replace(
        replay, "            pass\n        msg = self.msg"))
    monkeypatch.setattr(hil.link, "FIRMWARE_MAIN", fw / "firmware" / "main.py")
    out = tmp_path / "out"
    rc = main(["run", str(_short(tmp_path, 40)), "--out", str(out), "--no-progress",
               "--from-source"])
    s = _summary(out)
    assert rc == 1
    assert s["attack_accepted"] > 0 and s["attack_state_changed"] > 0


def test_signed_commands_continue_after_a_firmware_restart(tmp_path):
    # the restarted unit boots from its persisted sequence floor (above every number it may
    # have accepted); the rig's first command after it is refused, it skips ahead, and the run
    # goes on without a failed step
    p = tmp_path / "restart.toml"
    p.write_text("""
[scenario]
name = "auth_restart"
duration_s = 160
mode = "remote"

[grid]
world = "host/worlds/baltic.toml"
scenario = "quiet"
area = "LT"

[remote]
period_s = 4
setpoints = [{ t_s = 0, sp_kw = 200 }]

[link]
auth = true
timeout_ms = 2000
restarts = [80]

[criteria]
steps_failed = { max = 0 }
""")
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out), "--no-progress"]) == 0
    s = _summary(out)
    assert s["restarts"] == 1 and s["steps_ok"] == 40 and s["p_set_max_kw"] == 200
    # the refused first command after the restart is the only exception of the run
    assert s["fw_exceptions"] == 1
