# The unit firmware's composition: picks the board, builds drivers and controller, hands over the
# loop (afrr/runloop.py).
#
# firmware/main.py is a short shim that calls start() here: a board runs main.py from source, so
# everything else lives in this module, which tools/build_firmware.py compiles to app.mpy (no
# compile-time heap at boot, and comments cost nothing). This module is start-only: start() drops
# it from sys.modules with the register tables (afrr/regmap.py), the board data and loader, the
# state file reader (hal/store_load.py) and the command line (hal/unix_args.py), and main.py lets
# go of it, so the collector takes all their code back before the loop runs: the heap a unit runs
# in is what the run-time modules leave (tests/test_boards_app.py checks the list).
# main.py first sets gc.threshold(256): a collection after every 256 bytes allocated. Without
# it the collector runs only once the heap is full, start-up's garbage by then lies under the
# long-lived objects loaded after it, and the heap ends in small scattered holes that a 272-byte
# buffer no longer fits (the default scenario with a state file, 64-bit port, 2026-12-01: 65 KiB
# without it, 48 KiB with it, 46 KiB live). App.run() turns it off once the unit is built: the
# loop makes nothing long-lived. main() sets it too (the emulated board starts the app from its
# REPL, not from main.py).
#
# Unix port:  micropython firmware/main.py --device /dev/pts/N [--unit 1] [--realtime]
#                 [--silence-ms N] [--baud N] [--state-file PATH] [--board NAME] [--key-file PATH]
#                 [--strict-framing]
# Framing: on a board a request ends only at the 3.5-character silence (Modbus RTU as
# specified: bytes after a request before the silence make it invalid). The Unix port behind the
# rig's pty takes a request as soon as its length and CRC say it is whole (a deviation from the
# spec: a pty has no line timing, and a loaded host stretches the gaps); --strict-framing gives
# it the board's behaviour. A board may opt out with STRICT_FRAMING = False (the emulated
# qemu_mps2, whose REPL UART has no line timing either).
# On a board (no command line) the board data module (boards/*.py) gives the UART, baud, RS-485
# pin and the optional MODBUS_UNIT, LOCKSTEP, FREQ_SOURCE, SAVE_EVERY_STEPS, KEY_PATH
# (boards/README.md).
#
# Lock-step (the Unix port's default; on a board only with LOCKSTEP = True, a rig build): every
# write of the sim_time_ms register with a new value runs exactly one control step with
# dt = new - old, so a run is deterministic and as fast as the link allows.
# Real time (a board in service, or --realtime): the firmware steps every cfg.cycle_ms on its own
# clock with the latest measurements, and a sim_time_ms write is refused; their age grows from
# the last write and the stale status bit is set beyond cfg.max_age_ms (the fail-safe takes over).
# Write protection (afrr/auth.py, regmap.py): a board always runs locked, with the key deployed
# at KEY_PATH (no key: nothing can unlock it); the Unix port runs locked with --key-file and on
# the open bench profile without one; an emulated rig board (OPEN_BENCH) likewise runs open until
# a key file is on it. A sequence floor that cannot be trusted (hal/keystore.py) refuses every
# command and sets ST_STATE_FAULT.
#
# What a board adds:
# - watchdog: fed by bank.after_step, i.e. only after a control step that completed; nothing else
#   feeds it (not the Modbus handler, not the idle wait), so a stalled loop resets the board.
# - silent rig (lock-step on a board): once no step has run for silent_ms =
#   min(2 * cycle_ms, WDT_TIMEOUT_MS - 1000) the loop steps on its own clock every cycle_ms with
#   the last inputs, which count as stale: the controller holds the set-point for hold_cycles,
#   then ramps to 0 (defaults: fail-safe at 8 s, 7 s on rp2_pico; ramp from 12 s later). Such a
#   completed fail-safe step feeds the watchdog: the loop is alive and driving the unit to its
#   safe state; resetting the board instead would restart it, restore the set-point in force and
#   stall again, so the ramp to 0 would never finish. The Unix port keeps pure lock-step (the rig
#   may pause; its runs must stay deterministic): its watchdog is a SoftWDT that never resets.
# - frequency: with a ZC_PIN (and FREQ_SOURCE "zc", the default then), the zero-crossing meter
#   overrides the f_mhz register just before every step; an untrusted signal reads 0 mHz, which
#   the controller flags and takes its fail-safe on.
# - persisted state: always on a board (board.STATE_PATH); on the Unix port with --state-file.
#   A corrupt, fallen-back or refused record sets status bit ST_STATE_FAULT (0x0008).
import sys

from afrr.config import Config, ConfigError
from afrr.runloop import App, serve  # noqa: F401 (serve: tests drive the loop through app)

_HOST_SAVE_EVERY_STEPS = 15  # Unix port --state-file: also save every 15 steps (1 min at 4 s)
_WDT_MARGIN_MS = 1000  # silent-rig steps start at least this long before the watchdog expires
_ZC_AVG_CYCLES = 50  # zero-crossing meter: average over 50 mains cycles (1 s)


def prepare(board, unit=1, realtime=False, store=None, save_every=0, zc=None, fm=None,
            led=None, auth=None):
    """Load the persisted state (if a store is given) and validate the configuration: an App
    still to be built (App.build(), run by App.run()). ConfigError for a bad configuration.

    `auth`: an afrr.auth.Auth (the write lock and the key), or None for the open bench profile.
    """
    st = 0  # hal.store ST_* bits; hal.store is imported only with a store (saves heap)
    words = None
    if store is not None:
        from hal.store_load import boot_state

        cfg_values, words, st = boot_state(store, board)
        _forget("hal.store_load")  # start-only: its code leaves the heap before the unit is built
    else:
        cfg_values = dict(board.UNIT_DEFAULTS)
    return App(Config(**cfg_values), words, st, unit, realtime, auth, store, save_every, zc, fm,
               led)


def compose(board, unit=1, realtime=False, store=None, save_every=0, zc=None, fm=None,
            led=None, auth=None):
    """prepare(), then App.build(): controller, bank and Modbus RTU ready (tests, the rig's
    in-process target)."""
    return prepare(board, unit, realtime, store, save_every, zc, fm, led, auth).build()


def _import_boards():
    try:
        import boards
    except ImportError:  # running from the repository: boards/ sits next to firmware/
        try:
            f = __file__
        except NameError:
            f = ""
        here = f.rsplit("/", 1)[0] if "/" in f else "."
        sys.path.append(here + "/..")
        import boards
    return boards


def pick_board(override=None, impl=None, platform=None):
    """The board data module: --board override, else sys.implementation._build, else
    sys.platform (boards.load). ValueError/ImportError when none fits."""
    return _import_boards().load(override, impl, platform)


def on_host(platform=None):
    """True on the Unix port (pty link, soft watchdog, no pins), whatever board data is used."""
    p = sys.platform if platform is None else platform
    return p == "linux" or p == "darwin"


def freq_from_zc(board):
    """True when the board measures frequency itself (ZC_PIN, FREQ_SOURCE "zc" by default)."""
    if board.ZC_PIN is None:
        return False
    return getattr(board, "FREQ_SOURCE", "zc") == "zc"


def silent_limit_ms(board):
    """serve()'s silent_max_ms on a board: the watchdog timeout less a 1 s margin; 0 (pure
    lock-step, as on the Unix port) on a board without a hardware watchdog (HW_WDT False)."""
    if not getattr(board, "HW_WDT", True):
        return 0
    return board.WDT_TIMEOUT_MS - _WDT_MARGIN_MS


def _board_opts(board):
    """A board has no command line: its data module says how to run."""
    from hal.board_uart import silence_ms

    return {"device": None, "unit": getattr(board, "MODBUS_UNIT", 1),
            "realtime": not getattr(board, "LOCKSTEP", False),
            "silence_ms": getattr(board, "SILENCE_MS", 0) or silence_ms(board.UART_BAUD),
            "baud": board.UART_BAUD,
            "state_file": None, "board": None, "strict": getattr(board, "STRICT_FRAMING", True)}


def _forget(name):
    """Drop a start-only module (hal.unix_args) so the collector takes its code back: the
    heap the loop runs in is what a unit has left after start."""
    sys.modules.pop(name, None)
    pkg, _, leaf = name.rpartition(".")
    try:
        delattr(sys.modules[pkg], leaf)
    except (KeyError, AttributeError):
        pass


def _host_opts(argv):
    """The Unix port's options (hal/unix_args.py), or (None, exit code) after one line."""
    from hal import unix_args

    try:
        return unix_args.parse_args(argv), 0
    except unix_args.UsageError as e:
        msg = str(e)
        print(("error: " + msg + "\n" if msg else "") + unix_args.USAGE)
        return None, 2 if msg else 0
    finally:
        _forget("hal.unix_args")


def start(argv):
    """Start-up: options, board, persisted state, key, configuration. Returns the App to run
    (App.run() opens the link, arms the watchdog, builds controller, bank and Modbus RTU, then
    serves) or an exit code after one line. It drops the start-only modules (this
    one, the board data, the state loader, hal.unix_args) from sys.modules before it returns:
    once the caller lets go of this module too (firmware/main.py), the collector takes their
    code back and the loop runs in what a unit has left after start."""
    _forget("afrr.regmap")  # the tables' rows: config and unitregs have built their columns
    host = on_host()
    opts = None
    if host:
        opts, rc = _host_opts(argv)
        if opts is None:
            return rc
    try:
        board = pick_board(opts["board"] if opts else None)
    except (ImportError, ValueError) as e:
        print("error: %s" % e)
        return 2
    _forget("boards")  # the loader; the board data module stays until the end of start
    if not host:
        opts = _board_opts(board)
    store = None
    if not host or opts["state_file"]:
        from hal.store_load import open_store

        store = open_store(board, opts["state_file"])
    zc = fm = led = None
    if not host:
        from hal.board_io import status_led

        led = status_led(board)
        if freq_from_zc(board):
            from hal.zerocross import TICK_PERIOD, attach

            from afrr.freqmeas import FreqMeter

            zc = attach(board)
            fm = FreqMeter(n_avg=_ZC_AVG_CYCLES, tick_period=TICK_PERIOD)
    every = getattr(board, "SAVE_EVERY_STEPS", _HOST_SAVE_EVERY_STEPS if host else 0)
    auth = None
    key = opts.get("key_file")
    # (the open bench profile on the Unix port without a key spends no heap on it; an emulated
    # rig board (OPEN_BENCH) gets None from load_auth until a key file is on it)
    if not host or key:
        from hal.keystore import load_auth

        auth = load_auth(key or board)
    try:
        app = prepare(board, opts["unit"], opts["realtime"], store, every, zc, fm, led, auth)
    except ConfigError as e:
        print("error: bad configuration: %s" % e)
        return 2
    # the link and the watchdog are opened by App.run(), once this module has left the heap
    app.link = (board, opts["device"] if host else None, opts["baud"] or None,
                opts["silence_ms"], opts["realtime"], 0 if host else silent_limit_ms(board),
                opts["strict"])
    _forget("boards." + board.NAME)  # the App holds the board data until its link is open
    _forget("app")
    return app


GC_THRESHOLD = 256  # bytes allocated between collections (firmware/main.py's gc.threshold)


def main(argv):
    """start(), then the loop (App.run()); returns the exit code. firmware/main.py does the same
    but lets go of this module between the two, so its code does not stay in the heap."""
    import gc

    gc.threshold(GC_THRESHOLD)
    app = start(argv)
    return app if isinstance(app, int) else app.run()
