# The security scenario on the emulated Cortex-M3 (`--target qemu`): the rig makes a key for the
# run, writes it onto the board's RAM littlefs before the frozen firmware starts, so the board
# runs locked with it as a deployed one does, and injects forged, replayed, reordered and
# broadcast frames and plain writes through the fault proxy on the QEMU link. Every one is
# refused and the set-point follows the authentic stream. Without auth the board stays on its
# open bench profile. Needs the image from `make micropython`; skipped otherwise.
import csv
import json
import re

import pytest

from conftest import ROOT
from hil import qemu
from hil.__main__ import main
from hil.scenario import load

needs_qemu = pytest.mark.skipif(qemu.not_ready() is not None, reason=str(qemu.not_ready()))

SCENARIO = ROOT / "hil" / "scenarios" / "security.toml"
# per round (hil/auth.py Attacker): forged 2, replay 1, reorder 1, broadcast 5, plain 4
PER_ROUND = 2 + 1 + 1 + 5 + 4
ROUNDS = 10  # start_s 20, period_s 60 in 600 s: 20, 80, ..., 560
ST_KEYED = 0x0010


def _expected_p_set(t_s):
    """The set-point after the step in force at t_s, derived by hand: the script (+300 kW from
    0 s, -400 from 200 s, +800 from 400 s), one step every 4 s from t = 0 (the row at t shows
    the step at 4 * floor((t - 1) / 4)), each moving at most ceil(1000 kW band * 4 s / 300 s
    FAT) = 14 kW."""
    p = 0
    for k in range((int(t_s) - 1) // 4 + 1):
        t = 4 * k
        sp = 300 if t < 200 else -400 if t < 400 else 800
        p += max(-14, min(14, sp - p))
    return p


@needs_qemu
def test_security_scenario_on_qemu_every_injected_frame_refused(tmp_path):
    sc = load(SCENARIO)
    assert sc.link["auth"] and sc.scenario["duration_s"] == 600
    out = tmp_path / "out"
    rc = main(["run", str(SCENARIO), "--target", "qemu", "--out", str(out), "--no-progress"])
    s = json.loads((out / "summary.json").read_text())
    assert rc == 0 and s["passed"], [c for c in s["criteria"] if not c["ok"]]
    assert s["target"] == "qemu" and s["steps"] == 150 and s["steps_failed"] == 0
    assert s["attack_frames"] == ROUNDS * PER_ROUND
    assert (s["attack_accepted"], s["attack_no_reply"], s["attack_setpoint_mismatch"],
            s["attack_state_changed"]) == (0, 0, 0, 0)
    # every addressed injected frame answered exception 01 (broadcasts: no answer), and the
    # rig's own signed commands none
    assert s["fw_exceptions"] == ROUNDS * (PER_ROUND - 5) and s["fw_crc_errors"] == 0
    log = (out / "firmware.log").read_text()
    assert "key provisioned at /ram/afrr.key" in log
    with open(out / "timeseries.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 600
    # locked with the rig's key the whole run; the unit counted every injected frame
    assert all(int(r["fw_status_bits"]) & ST_KEYED for r in rows)
    assert int(rows[-1]["fw_auth_rejects"]) == ROUNDS * PER_ROUND
    # the set-point is where the authentic stream puts it, never the attacker's -777 kW
    got = [int(float(r["p_set_kw"])) for r in rows]
    assert got == [_expected_p_set(float(r["t_s"])) for r in rows]
    assert (max(got), min(got), got[199], got[399], got[-1]) == (300, -400, 300, -400, 300)


@needs_qemu
def test_qemu_without_auth_keeps_the_open_bench_profile(tmp_path):
    # no [link] auth: no key on the board, the firmware runs open (plain set-point writes)
    text = SCENARIO.read_text()
    text = re.sub(r"duration_s = \d+", "duration_s = 40", text)
    text = text.replace("auth = true", "auth = false")
    text = text.split("[attack]")[0] + "[criteria]\nsteps_failed = { max = 0 }\n"
    p = tmp_path / "open.toml"
    p.write_text(text)
    out = tmp_path / "out"
    rc = main(["run", str(p), "--target", "qemu", "--out", str(out), "--no-progress"])
    assert rc == 0
    assert "key provisioned" not in (out / "firmware.log").read_text()
    with open(out / "timeseries.csv") as f:
        rows = list(csv.DictReader(f))
    assert not any(int(r["fw_status_bits"]) & ST_KEYED for r in rows)
    assert int(rows[-1]["fw_auth_rejects"]) == 0 and float(rows[-1]["p_set_kw"]) == 14 * 10


@needs_qemu
@pytest.mark.parametrize("name, signed", [
    ("setpoint_loss", 450 - 180 // 4),  # one set-point a 4 s cycle, none in the 180 s loss
    ("market_nordbalt", 450),
])
def test_authenticated_scenarios_on_qemu(tmp_path, name, signed):
    # the scenarios that run authenticated on the Unix port do so on the emulated board too:
    # every set-point a signed command the locked unit accepted, nothing refused
    out = tmp_path / "out"
    rc = main(["run", str(ROOT / "hil" / "scenarios" / (name + ".toml")), "--target", "qemu",
               "--out", str(out), "--no-progress"])
    s = json.loads((out / "summary.json").read_text())
    assert rc == 0 and s["passed"], [c for c in s["criteria"] if not c["ok"]]
    assert s["steps"] == 450 and s["fw_exceptions"] == 0
    with open(out / "timeseries.csv") as f:
        rows = list(csv.DictReader(f))
    assert all(int(r["fw_status_bits"]) & ST_KEYED for r in rows)
    assert int(rows[-1]["fw_remote_seq"]) == signed and int(rows[-1]["fw_auth_rejects"]) == 0
