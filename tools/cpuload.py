# CPU-bound load beside a command (`make test-stress`) or a test: N busy processes, started and
# stopped here, on success, failure, Ctrl-C or a kill of this process alike.
#
#   python tools/cpuload.py [--procs N] -- COMMAND [ARGS...]
#
# Runs COMMAND with N processes spinning beside it and exits with COMMAND's status. The burners
# sit in their own session (a Ctrl-C on the terminal goes to COMMAND, not to them) and are killed
# when COMMAND ends; on Linux each also gets SIGKILL from the kernel if this process dies first
# (PR_SET_PDEATHSIG), so none outlives it.
import argparse
import contextlib
import signal
import subprocess
import sys

_BURN = "while True:\n    pass\n"
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the child, before exec: SIGKILL when the parent dies (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def burners(n=4):
    """n CPU-bound processes for the duration of the block; yields their Popen objects."""
    procs = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen([sys.executable, "-c", _BURN],
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          preexec_fn=_die_with_parent))
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python tools/cpuload.py",
        description="run COMMAND with N CPU-bound processes beside it; exit with its status")
    ap.add_argument("--procs", type=int, default=4, help="busy processes (default 4)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = ap.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        print("error: no command given (python tools/cpuload.py -- make test)", file=sys.stderr)
        return 2
    if not 0 <= args.procs <= 64:
        print("error: --procs must be in 0..64", file=sys.stderr)
        return 2
    with burners(args.procs):
        try:
            child = subprocess.Popen(cmd)
        except OSError as e:
            print("error: cannot run %s (%s)" % (cmd[0], e.strerror or e), file=sys.stderr)
            return 2
        try:
            return child.wait()
        except KeyboardInterrupt:  # the terminal's Ctrl-C reached the command too
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return 130


if __name__ == "__main__":
    sys.exit(main())
