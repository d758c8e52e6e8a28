# Composition root of the unit firmware: picks the link, builds controller and Modbus server, runs.
#
# Unix port:  micropython firmware/main.py --device /dev/pts/N [--unit 1] [--realtime]
#                                          [--silence-ms N] [--baud N] [--state-file PATH]
# On a board (no command line) the board data module (boards/*.py) gives the UART, baud, RS-485
# pin and, optionally, MODBUS_UNIT and REALTIME.
# Lock-step (default): every write of the sim_time_ms register with a new value runs exactly one
# control step with dt = new - old, so a run is deterministic and as fast as the link allows.
# Real time (--realtime): the firmware steps every cfg.cycle_ms on its own clock with the latest
# measurements; their age grows from the last write and the stale status bit is set beyond
# cfg.max_age_ms (the controller's fail-safe takes over).
import sys
import time

from afrr.config import Config
from afrr.controller import Controller
from afrr.modbus import RTU
from afrr.unitregs import UnitRegisters

USAGE = ("usage: micropython firmware/main.py --device PATH [--unit N] [--realtime] "
         "[--silence-ms N] [--baud N] [--state-file PATH]")

_IDLE_MS = 100  # poll timeout while nothing is buffered and no step is due
_SAVE_EVERY_STEPS = 15  # --state-file: also save every 15 steps (1 min at 4 s), besides each ISP


class UsageError(Exception):
    pass


def parse_args(argv):
    opts = {"device": None, "unit": 1, "realtime": False, "silence_ms": 4, "baud": 0,
            "state_file": None}
    ints = {"--unit": ("unit", 1, 247), "--silence-ms": ("silence_ms", 1, 1000),
            "--baud": ("baud", 1200, 4000000)}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            raise UsageError("")
        if a == "--realtime":
            opts["realtime"] = True
            i += 1
            continue
        if a not in ints and a not in ("--device", "--state-file"):
            raise UsageError("unknown argument %r" % a)
        if i + 1 >= len(argv):
            raise UsageError("%s needs a value" % a)
        v = argv[i + 1]
        if a == "--device":
            opts["device"] = v
        elif a == "--state-file":
            opts["state_file"] = v
        else:
            key, lo, hi = ints[a]
            try:
                n = int(v)
            except ValueError:
                raise UsageError("%s must be an integer, not %r" % (a, v))
            if n < lo or n > hi:
                raise UsageError("%s must be in %d..%d" % (a, lo, hi))
            opts[key] = n
        i += 2
    if opts["device"] is None:
        raise UsageError("--device is required")
    return opts


def serve(port, rtu, bank, ticks_ms, ticks_diff, silence_ms, realtime=False, steps_max=0):
    """The loop: bytes in, replies out, frame boundary at silence_ms, real-time steps.

    `ticks_ms`/`ticks_diff` are injected (time.ticks_ms on a target). Returns when the link
    closes (port raises) or after steps_max real-time steps (tests).
    """
    cfg = bank.cfg
    last_rx = ticks_ms()
    last_step = last_rx
    rt_steps = 0
    while True:
        now = ticks_ms()
        if rtu.pending():
            timeout = silence_ms - ticks_diff(now, last_rx)
            if timeout < 0:
                timeout = 0
        else:
            timeout = _IDLE_MS
        if realtime:
            due = cfg.cycle_ms - ticks_diff(now, last_step)
            if due < timeout:
                timeout = due if due > 0 else 0
        if port.wait(timeout):
            n = port.readinto(rtu.chunk)
            if n:
                rtu.feed(n)
                last_rx = ticks_ms()
                r = rtu.complete()
                while True:
                    if r:
                        port.write(rtu.tx, r)
                    if not (rtu.handled and rtu.pending()):
                        break
                    r = rtu.complete()
        now = ticks_ms()
        if rtu.pending() and ticks_diff(now, last_rx) >= silence_ms:
            r = rtu.at_silence()
            if r:
                port.write(rtu.tx, r)
        if realtime:
            dt = ticks_diff(now, last_step)
            if dt >= cfg.cycle_ms:
                last_step = now
                bank.tick(dt, cfg.max_age_ms)
                rt_steps += 1
                if steps_max and rt_steps >= steps_max:
                    return


def _board():
    """The board data module (boards/), or None when it is not importable from here."""
    try:
        import boards
    except ImportError:
        here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
        sys.path.append(here + "/..")
        try:
            import boards
        except ImportError:
            return None
    try:
        return boards.load()
    except (ImportError, ValueError):
        return None


def _on_host():
    return sys.platform == "linux" or sys.platform == "darwin"


def _open_link(opts, board):
    if _on_host():
        from hal.unix_pty import PtyPort
        return PtyPort(opts["device"], opts["baud"] or None)
    from hal.board_io import open_link  # boards work (issue 5): UART, pins, RS-485 DE pin
    return open_link(board)


def _board_opts(board):
    """A board has no command line: its data module says how to run."""
    from hal.board_uart import silence_ms
    baud = board.UART_BAUD
    return {"device": None, "unit": getattr(board, "MODBUS_UNIT", 1),
            "realtime": getattr(board, "REALTIME", False), "silence_ms": silence_ms(baud),
            "baud": baud, "state_file": getattr(board, "STATE_PATH", None)}


def main(argv):
    board = _board()
    if _on_host():
        try:
            opts = parse_args(argv)
        except UsageError as e:
            msg = str(e)
            print(("error: " + msg + "\n" if msg else "") + USAGE)
            return 2 if msg else 0
    elif board is None:
        print("error: no board data module for this port (boards/)")
        return 2
    else:
        opts = _board_opts(board)
    cfg_values = dict(board.UNIT_DEFAULTS) if board is not None else {}
    words = None
    saver = None
    if opts["state_file"]:
        import os

        from hal.store import StateSaver, StateStore, boot_state
        store = StateStore(opts["state_file"], os, open, None)
        if board is not None:
            cfg_values, words, _st = boot_state(store, board)
        saver = StateSaver(store, every=_SAVE_EVERY_STEPS)
    cfg = Config(**cfg_values)
    ctl = Controller(cfg)
    if words:
        ctl.restore(words)
    bank = UnitRegisters(ctl, cfg, unit_id=opts["unit"], lockstep=not opts["realtime"])
    rtu = RTU(bank)
    bank.rtu = rtu
    if saver is not None:
        bank.after_step = lambda: saver.after_step(ctl, cfg)
    try:
        port = _open_link(opts, board)
    except Exception as e:  # one line, never a traceback, for a bad device path
        print("error: %s" % e)
        return 2
    try:
        serve(port, rtu, bank, time.ticks_ms, time.ticks_diff, opts["silence_ms"],
              opts["realtime"])
    except KeyboardInterrupt:
        pass
    except Exception as e:  # LinkClosed: the rig went away
        print("firmware: %s after %d steps" % (e, bank.steps))
    if saver is not None:
        saver.request()
        saver.after_step(ctl, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
