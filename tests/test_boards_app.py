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
    assert "from app import main" in main


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
