# The board build's entry point: main.py is a shim over app.mpy, and board selection errors are one
# line. The wiring itself (watchdog, silent rig, frequency, state fault) is tested in
# tests/firmware/test_app_board.py under both runtimes.
import importlib
import subprocess
import sys

from hal.board_io import uart_kwargs

from conftest import MICROPYTHON, ROOT

sys.path.insert(0, str(ROOT / "tools"))
import build_firmware  # noqa: E402


def test_build_has_the_app_module_and_a_short_main(tmp_path):
    rows, _total = build_firmware.build("rp2_pico", tmp_path, quiet=True)
    sizes = {r[0]: r[1] for r in rows}
    assert sizes["app.mpy"] > 2000
    assert sizes["main.py"] < 600  # compiled from source at boot: keep it tiny
    main = (tmp_path / "rp2_pico" / "main.py").read_text()
    assert "r = app.start(sys.argv[1:])\ndel app\n" in main  # app's code leaves the heap
    # the collector runs every GC_THRESHOLD bytes from before the first module loads
    sys.path.insert(0, str(ROOT / "firmware"))
    import app
    assert main.index("gc.threshold(%d)\n" % app.GC_THRESHOLD) < main.index("import app")


def test_unknown_board_is_one_line_exit_2():
    r = subprocess.run([str(MICROPYTHON), "firmware/main.py", "--device", "/dev/null",
                        "--board", "nosuch"], cwd=ROOT, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2
    assert r.stdout.startswith("error: unknown board 'nosuch'") and "Traceback" not in r.stdout


def test_uart_reads_return_what_is_buffered():
    for name in ("rp2_pico", "esp32_devkit", "pyboard_v11"):
        kw = uart_kwargs(importlib.import_module("boards." + name))
        assert kw["timeout"] == 0 and kw["timeout_char"] == 0


# run by the Unix port in the unix board's build: start the unit on a pty as main.py does, let
# go of app, and list what is left in sys.modules and how much heap the code that stays needs
_AFTER_START = """
import gc, sys
import app
r = app.start(["--device", sys.argv[1], "--state-file", sys.argv[2]])
del app
gc.collect()
print(type(r).__name__, gc.mem_alloc())
print(" ".join(sorted(sys.modules)))
"""


def test_start_leaves_only_the_run_time_modules_in_the_heap(tmp_path):
    # app.start() drops what only start-up needs (itself, the board data and loader, the
    # state file reader, the command line): main.py's `del app` then lets the collector take
    # their code back. A state file is present, so its readers did run.
    from hil.link import open_pty

    rows, _total = build_firmware.build("unix", tmp_path, quiet=True, arch="x64")
    unit = tmp_path / "unix"
    (unit / "after_start.py").write_text(_AFTER_START)
    state = tmp_path / "state.bin"
    import os

    from afrr import persist
    from afrr.config import Config
    from afrr.controller import Controller
    cfg = Config()
    state.write_bytes(persist.encode(7, Controller(cfg).state_words(), persist.config_words(cfg)))
    master, slave, path = open_pty()
    try:
        r = subprocess.run([str(MICROPYTHON), "after_start.py", path, str(state)], cwd=unit,
                           capture_output=True, text=True, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode == 0, r.stdout + r.stderr
    head, mods = r.stdout.strip().splitlines()[-2:]
    assert head.split()[0] == "App"
    mods = set(mods.split())
    for gone in ("app", "boards", "boards.unix", "hal.store_load", "hal.unix_args"):
        assert gone not in mods, gone
    # what the loop runs with is still there (the link's and the watchdog's drivers come with
    # App.run(), which opens them)
    for kept in ("afrr.controller", "afrr.unitregs", "afrr.modbus", "afrr.runloop", "hal.store",
                 "afrr.persist"):
        assert kept in mods, kept


# run by the Unix port in the unix board's build, as main.py starts a unit: what gc.threshold
# is while the unit is built and while the loop serves (serve() replaced by a probe)
_THRESHOLDS = """
import gc, sys
gc.threshold(256)
import app
from afrr import runloop
seen = {}
build = runloop.App.build
def probe_build(self):
    seen["build"] = gc.threshold()
    return build(self)
def probe_serve(*args):
    seen["serve"] = gc.threshold()
runloop.App.build = probe_build
runloop.serve = probe_serve
r = app.start(["--device", sys.argv[1]])
del app
print(r.run(), seen["build"], seen["serve"])
"""


def test_the_collector_runs_often_while_the_unit_is_built_and_not_while_it_serves(tmp_path):
    # main.py's threshold keeps start-up's garbage from spreading under what lives on; once
    # the unit is built App.run() turns it off: a transaction's calls of functions with large
    # frames take heap for the call (MicroPython), and would each count towards it
    import os

    from hil.link import open_pty

    build_firmware.build("unix", tmp_path, quiet=True, arch="x64")
    unit = tmp_path / "unix"
    (unit / "thresholds.py").write_text(_THRESHOLDS)
    master, slave, path = open_pty()
    try:
        r = subprocess.run([str(MICROPYTHON), "thresholds.py", path], cwd=unit,
                           capture_output=True, text=True, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["0", "256", "-1"]
