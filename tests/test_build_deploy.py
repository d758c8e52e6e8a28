# tools/deploy.py: without a board every failure is one clear line and a non-zero exit status.
import subprocess
import sys

import pytest

from conftest import ROOT

DEPLOY = [sys.executable, str(ROOT / "tools" / "deploy.py")]


def run(*args):
    r = subprocess.run(DEPLOY + list(args), cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("args, code, words", [
    ((), 2, "no BOARD given"),
    (("rp2_pico",), 2, "no PORT given for rp2_pico"),
    (("rp2_pico", "/dev/ttyACM_afrr_absent"), 3, "/dev/ttyACM_afrr_absent not found"),
    (("rp2_pico", "/dev/ttyACM_afrr_absent", "--check"), 3, "is the rp2_pico plugged in"),
    (("unix", "/dev/null"), 2, "nothing to flash"),
    (("stm99", "/dev/null"), 2, "unknown board 'stm99'"),
])
def test_errors_are_one_line_without_traceback(args, code, words):
    rc, out, err = run(*args)
    assert rc == code
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deploy: error: ") and words in lines[0]


def test_mpremote_failure_is_one_line(tmp_path):
    # /dev/null exists but is no board: mpremote fails, deploy reports its last line
    rc, out, err = run("esp32_devkit", "/dev/null", "--build", str(tmp_path))
    assert rc == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "mpremote failed on /dev/null" in lines[0]
    assert (tmp_path / "esp32_devkit" / "afrr" / "controller.mpy").exists()  # built on demand


def test_dry_run_copies_the_build_and_resets(tmp_path):
    rc, out, err = run("pyboard_v11", "/dev/null", "--build", str(tmp_path), "--dry-run")
    assert rc == 0, err
    cmd = out.strip().splitlines()[-1].split()  # after the size table of the build
    assert cmd[1:4] == ["connect", "/dev/null", "fs"]
    assert cmd[4:6] == ["cp", "-r"] and cmd[-3:] == [":", "+", "reset"]
    assert {"afrr", "hal", "boards"} <= set(cmd[6:-3])
