# tools/cpuload.py (`make test-stress`): the busy processes run beside the command and none
# outlives it, whether the command passes, fails, or the runner itself is killed.
import os
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "cpuload.py"
# the command lists its siblings (the burners: the tool's other children), then exits or waits
LIST = ("import os, sys; pp = os.getppid(); me = str(os.getpid()); "
        "kids = open('/proc/%d/task/%d/children' % (pp, pp)).read().split(); "
        "print(' '.join(k for k in kids if k != me), flush=True); "
        "sys.stdin.read() if sys.argv[1:] == ['wait'] else sys.exit(3)")


def _running(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pids, wait_s=10.0):
    t_end = time.monotonic() + wait_s
    while any(_running(p) for p in pids) and time.monotonic() < t_end:
        time.sleep(0.01)
    return not any(_running(p) for p in pids)


def _burner(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return b"while True" in f.read()


def test_burners_run_beside_the_command_and_stop_with_it():
    r = subprocess.run([sys.executable, str(TOOL), "--procs", "3", "--", sys.executable, "-c",
                        LIST], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3  # the command's status
    pids = [int(p) for p in r.stdout.split()]
    assert len(pids) == 3
    assert _gone(pids)


def test_no_burner_outlives_a_killed_runner():
    p = subprocess.Popen([sys.executable, str(TOOL), "--procs", "2", "--", sys.executable, "-c",
                          LIST, "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        pids = [int(x) for x in p.stdout.readline().split()]
        assert len(pids) == 2 and all(_running(x) and _burner(x) for x in pids)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        assert _gone(pids)
    finally:
        if p.poll() is None:
            p.kill()
        p.stdin.close()
        p.stdout.close()


def test_usage_errors_are_one_line():
    r = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--procs" in r.stdout
