# `make hil` on a board: mpremote uses PORT (the USB REPL), the rig uses RIG_PORT (its adapter on
# the board's Modbus UART); the two are checked before a run, and boards/README.md wires them.
import importlib
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

DEPLOY = [sys.executable, str(ROOT / "tools" / "deploy.py")]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_hil_hands_rig_port_to_the_rig_and_port_to_the_check():
    r = subprocess.run(["make", "-n", "hil", "BOARD=rp2_pico", "PORT=/dev/ttyACM0",
                        "RIG_PORT=/dev/ttyUSB0"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    run = [ln for ln in r.stdout.splitlines() if " -m hil run " in ln]
    check = [ln for ln in r.stdout.splitlines() if "deploy.py" in ln]
    assert len(run) == 1 and "--target serial:/dev/ttyUSB0 " in run[0]
    assert "ttyACM0" not in run[0]
    assert len(check) == 1
    assert '"/dev/ttyACM0" --check --rig-port "/dev/ttyUSB0"' in check[0]


@pytest.mark.parametrize("rig, code, words", [
    ("", 2, "no RIG_PORT given: the firmware serves Modbus on UART0 of rp2_pico"),
    ("/dev/null", 2, "RIG_PORT and PORT are both /dev/null"),
    ("/dev/afrr-no-such-adapter", 3, "rig serial port /dev/afrr-no-such-adapter not found"),
])
def test_rig_port_check_fails_with_one_line(rig, code, words):
    r = subprocess.run(DEPLOY + ["rp2_pico", "/dev/null", "--check", "--rig-port", rig],
                       capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code and len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_rig_port_check_passes_with_two_distinct_ports():
    r = subprocess.run(DEPLOY + ["rp2_pico", "/dev/null", "--check", "--rig-port", "/dev/zero"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""


def _pin(board, pin):
    prefix = {"rp2_pico": "GP", "esp32_devkit": "GPIO"}.get(board, "")
    return pin if isinstance(pin, str) else "%s%d" % (prefix, pin)


def test_wiring_table_matches_the_board_modules():
    text = (ROOT / "boards" / "README.md").read_text()
    text = text[text.index("## Wiring"):]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", text, re.M)}
    for name in ("rp2_pico", "esp32_devkit", "pyboard_v11"):
        b = importlib.import_module("boards." + name)
        row = rows[name]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 6, row
        _, _repl, uart, de, zc, _led = cells
        assert uart.startswith("UART%d:" % b.UART_ID), row
        assert re.search(r"\b%s\b.*\b%s\b" % (_pin(name, b.UART_TX_PIN), _pin(name, b.UART_RX_PIN)),
                         uart), row
        if b.RS485_DE_PIN is None:
            assert de.startswith("none"), row
        else:
            assert re.match(r"%s\b" % _pin(name, b.RS485_DE_PIN), de), row
        assert re.match(r"%s\b" % _pin(name, b.ZC_PIN), zc), row
