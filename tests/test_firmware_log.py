# firmware.log holds everything the firmware printed (stdout and stderr), over every start of a
# run, with a "--- " line from the rig at each start and exit.
import json

import pytest

from hil.__main__ import main
from hil.client import Unit, make_client
from hil.link import MICROPYTHON, Link, UnixFirmware

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no Unix port: make venv")


def _answering(link):
    """Wait (on the event: an answer) until the firmware serves its link."""
    unit = Unit(make_client(link.client_path)).connect()
    try:
        unit.wait_ready(timeout_s=60, alive=link.firmware.alive)
    finally:
        unit.close()


def test_log_keeps_every_start_and_what_each_printed():
    fw = UnixFirmware(source=True)
    link = Link(fw).open()
    try:
        _answering(link)
        link.restart_firmware()  # SIGKILL, as a crash would; a fresh process on a fresh pty
        _answering(link)
    finally:
        log = link.close()
    lines = log.splitlines()
    assert [ln.split(":")[0] for ln in lines if ln.startswith("--- firmware start")] == \
        ["--- firmware start 1", "--- firmware start 2"]
    assert "--- firmware exited: status -9 (signal 9)" in lines
    # the last process was stopped by closing its link: it said so itself, then exited cleanly
    assert any(ln.startswith("firmware: link") and ln.endswith("after 0 steps") for ln in lines)
    assert lines[-1] == "--- firmware exited: status 0"
    assert fw.log() == log  # stop() twice adds nothing
    assert fw.stop() == log


def test_error_output_of_a_failing_start_is_in_the_log():
    # 6 KiB of heap: the Unix port dies at import with a MemoryError traceback
    fw = UnixFirmware(source=True, heapsize="6k").start()
    fw.proc.wait(60)
    log = fw.stop()
    assert "MemoryError" in log and "Traceback" in log
    assert log.splitlines()[-1] == "--- firmware exited: status 1"


SC = """
[scenario]
name = "log"
duration_s = 240
mode = "local"

[link]
restarts = [120]

[criteria]
restarts = { min = 1 }
"""


def test_report_firmware_log_spans_the_restart(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SC)
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "summary.json").read_text())["restarts"] == 1
    log = (out / "firmware.log").read_text()
    assert log.count("--- firmware start") == 2
    assert log.count("--- firmware exited") == 2
    assert "status -9" in log and "after " in log
