# `make deploy BOARD=<name> PORT=<dev>`: copy build/<name>/ onto the board with mpremote, reset it.
#
#   python tools/deploy.py <board> <port> [--build DIR] [--dry-run] [--key FILE] [--floor N]
#   python tools/deploy.py <board> <port> --check [--rig-port DEV]
#       (only check that a board is attached and, for `make hil`, that the rig's serial adapter
#       on DEV, wired to the board's Modbus UART, is there and is not the board's REPL port)
#
# Every failure is one line on stderr and a non-zero exit status, never a traceback:
#   2  usage: no board or port given, unknown board, or the Unix port (nothing to flash)
#   3  the serial port does not exist (no board attached)
#   1  the build failed or mpremote failed (its last line is shown)
import argparse
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))


class DeployError(Exception):
    def __init__(self, msg, code):
        super().__init__(msg)
        self.code = code


def check_target(board, port):
    """Validate board and port; returns the board module. Raises DeployError."""
    import boards

    if not board:
        raise DeployError("no BOARD given: make deploy BOARD=rp2_pico PORT=/dev/ttyACM0", 2)
    if board not in boards.NAMES:
        raise DeployError("unknown board %r; known: %s" % (board, ", ".join(boards.NAMES)), 2)
    if board == "unix":
        raise DeployError("board 'unix' is the MicroPython Unix port on this machine: nothing "
                          "to flash (make run, or make hil BOARD=unix)", 2)
    if not port:
        raise DeployError("no PORT given for %s: make deploy BOARD=%s PORT=/dev/ttyACM0 "
                          "(`mpremote devs` lists attached boards)" % (board, board), 2)
    is_path = "://" not in port and os.sep in port  # not an mpremote shortcut or a URL
    if is_path and not os.path.exists(port):
        raise DeployError("serial port %s not found: is the %s plugged in?" % (port, board), 3)
    import importlib

    return importlib.import_module("boards." + board)


def check_rig_port(board, port, rig_port):
    """The rig talks Modbus to the board's UART through its own adapter: not the REPL port."""
    if not rig_port:
        raise DeployError("no RIG_PORT given: the firmware serves Modbus on UART%s of %s, not on "
                          "its USB REPL; wire a serial adapter to it (boards/README.md, Wiring) "
                          "and pass e.g. RIG_PORT=/dev/ttyUSB0" % (board.UART_ID, board.NAME), 2)
    if os.path.realpath(rig_port) == os.path.realpath(port):
        raise DeployError("RIG_PORT and PORT are both %s: PORT is the board's REPL (mpremote), "
                          "RIG_PORT the adapter on its Modbus UART" % port, 2)
    is_path = "://" not in rig_port and os.sep in rig_port
    if is_path and not os.path.exists(rig_port):
        raise DeployError("rig serial port %s not found: is the adapter plugged in?" % rig_port, 3)


def key_dest(bd):
    """Where the firmware reads its key on the board (KEY_PATH, else beside the state file)."""
    sys.path.insert(0, str(ROOT / "firmware"))
    from hal.keystore import key_path

    return key_path(bd)


def check_floor(text):
    """--floor: the sequence floor to write, 0..2**32 - 1; DeployError (exit 2) otherwise."""
    if text is None:
        return None
    if not text.isdigit() or int(text) > 0xFFFFFFFF:
        raise DeployError("--floor %r: a sequence number 0..4294967295" % text, 2)
    return int(text)


def check_key(path):
    """The key file must parse as the firmware parses it; DeployError (exit 2) otherwise."""
    sys.path.insert(0, str(ROOT / "firmware"))
    from afrr.auth import parse_key

    try:
        parse_key(pathlib.Path(path).read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise DeployError("key file %s: %s" % (path, getattr(e, "strerror", None) or e), 2)
    except ValueError as e:
        raise DeployError("%s: %s" % (path, e), 2)


def mpremote_cmd(port, build_dir, key=None, dest=None, floor=None):
    """The mpremote command line: copy every top-level entry of the build, the key file (if
    given) to `dest`, write the sequence floor (if given) to both floor files beside it
    (dest.seq and dest.seq.tmp: the firmware takes the higher, so exactly this floor), then
    hard reset."""
    exe = pathlib.Path(sys.executable).parent / "mpremote"
    entries = sorted(p.name for p in pathlib.Path(build_dir).iterdir())
    extra = ["fs", "cp", str(pathlib.Path(key).resolve()), ":" + dest, "+"] if key else []
    if floor is not None:
        extra += ["exec", "; ".join("f = open(%r, 'w'); f.write('%d'); f.close()"
                                    % (dest + s, floor) for s in (".seq", ".seq.tmp")), "+"]
    return [str(exe) if exe.exists() else "mpremote", "connect", port,
            "fs", "cp", "-r", *entries, ":", "+", *extra, "reset"]


def deploy(board, port, build_root=None, dry_run=False, key=None, floor=None):
    bd = check_target(board, port)
    if key:
        check_key(key)
    floor = check_floor(floor)
    build_dir = pathlib.Path(build_root or ROOT / "build") / board
    if not build_dir.is_dir():
        import build_firmware

        try:
            build_firmware.build(board, build_dir.parent)
        except build_firmware.BuildError as e:
            raise DeployError(str(e), 1)
    cmd = mpremote_cmd(port, build_dir, key, key_dest(bd), floor)
    if dry_run:
        print(" ".join(cmd))
        return 0
    try:
        r = subprocess.run(cmd, cwd=build_dir, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise DeployError("mpremote not found: run `make venv` (requirements.txt pins it)", 1)
    except subprocess.TimeoutExpired:
        raise DeployError("mpremote timed out on %s" % port, 1)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        raise DeployError("mpremote failed on %s: %s" % (port, lines[-1] if lines else
                                                        "exit %d" % r.returncode), 1)
    print("deployed build/%s%s%s to %s and reset it" % (
        board, " and the key" if key else "",
        "" if floor is None else " and sequence floor %d" % floor, port))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="deploy.py", description="Copy build/<board>/ onto a "
                                 "board with mpremote and reset it.")
    ap.add_argument("board", nargs="?", default=os.environ.get("BOARD", ""))
    ap.add_argument("port", nargs="?", default=os.environ.get("PORT", ""))
    ap.add_argument("--build", default=None, help="build root (default build/)")
    ap.add_argument("--dry-run", action="store_true", help="print the mpremote command only")
    ap.add_argument("--check", action="store_true", help="only check board and port")
    ap.add_argument("--rig-port", default=None,
                    help="with --check: also check the rig's serial adapter (make hil RIG_PORT=)")
    ap.add_argument("--key", default=os.environ.get("KEY") or None, metavar="FILE",
                    help="the unit's key file ('<key id> <hex key>', e.g. from python -m hil "
                         "keygen), copied beside the state file; never kept in the repository. "
                         "Without it the key on the board stays (none: the unit runs locked)")
    ap.add_argument("--floor", default=None, metavar="N",
                    help="write the key's sequence floor N (0..4294967295; commands up to N "
                         "count as used): 0 with a new key; with the old key above every "
                         "number its sender used. Needed after a corrupt floor (the unit "
                         "refuses every command until then). Without it the floor stays")
    args = ap.parse_args(argv)
    try:
        if args.check:
            board = check_target(args.board, args.port)
            if args.rig_port is not None:
                check_rig_port(board, args.port, args.rig_port)
            if args.key:
                check_key(args.key)
            check_floor(args.floor)
            return 0
        return deploy(args.board, args.port, args.build, args.dry_run, args.key, args.floor)
    except DeployError as e:
        print("deploy: error: %s" % e, file=sys.stderr)
        return e.code


if __name__ == "__main__":
    sys.exit(main())
