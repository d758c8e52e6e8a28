# Board data modules: every variable from boards/README.md, sane values, and the board lookup.
import ast
import importlib
import re
import subprocess

import pytest

import boards
from afrr.config import Config, field_index
from conftest import MICROPYTHON, ROOT

PIN = (int, str, type(None))
REQUIRED = {
    "NAME": str, "MCU": str, "PLATFORM": str, "BUILD_IDS": tuple, "MPY_ARCH": str,
    "MPY_VERSION": int, "MPY_SUB_VERSION": int, "SMALL_INT_BITS": int, "TICKS_PERIOD": int,
    "UART_ID": (int, type(None)), "UART_TX_PIN": PIN, "UART_RX_PIN": PIN, "UART_BAUD": int,
    "RS485_DE_PIN": PIN, "LED_PIN": PIN, "ZC_PIN": PIN, "WDT_TIMEOUT_MS": int,
    "HEAP_BUDGET_BYTES": int, "FLASH_BUDGET_BYTES": int, "STATE_PATH": str,
    "UNIT_DEFAULTS": dict,
}
MAX_CYCLE_MS = 4000  # config.cycle_ms upper bound: the watchdog must outlast one cycle


def all_boards():
    return [importlib.import_module("boards." + n) for n in boards.NAMES]


@pytest.mark.parametrize("name", boards.NAMES)
def test_board_defines_every_variable(name):
    b = importlib.import_module("boards." + name)
    for var, typ in REQUIRED.items():
        assert hasattr(b, var), "%s misses %s" % (name, var)
        assert isinstance(getattr(b, var), typ), "%s.%s: %r" % (name, var, getattr(b, var))
    assert b.NAME == name


def test_readme_lists_exactly_the_required_variables():
    text = (ROOT / "boards" / "README.md").read_text()
    table = text[text.index("## Variables"):text.index("## Adding")]
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert listed == set(REQUIRED)


@pytest.mark.parametrize("name", boards.NAMES)
def test_board_module_is_data_only_with_sources(name):
    src = (ROOT / "boards" / (name + ".py")).read_text()
    tree = ast.parse(src)
    for node in tree.body:
        assert isinstance(node, ast.Assign), "%s: only assignments allowed, found %s" % (
            name, type(node).__name__)
    # every value carries a source comment or says assumed (on its line or the line above)
    lines = src.splitlines()
    for node in tree.body:
        i = node.lineno - 1
        here = lines[i] + (lines[i - 1] if i and lines[i - 1].startswith("#") else "")
        if node.targets[0].id in ("NAME", "MCU"):
            continue
        assert "#" in here, "%s line %d has no source comment" % (name, node.lineno)


@pytest.mark.parametrize("name", boards.NAMES)
def test_board_values_are_consistent(name):
    b = importlib.import_module("boards." + name)
    assert b.MPY_VERSION == 6 and b.MPY_SUB_VERSION == 3
    assert b.TICKS_PERIOD & (b.TICKS_PERIOD - 1) == 0 and b.TICKS_PERIOD <= 1 << 30
    assert b.WDT_TIMEOUT_MS > MAX_CYCLE_MS
    assert 16384 <= b.HEAP_BUDGET_BYTES and 16384 <= b.FLASH_BUDGET_BYTES
    assert b.UART_BAUD in (9600, 19200, 38400, 57600, 115200, 230400)
    pins = [p for p in (b.UART_TX_PIN, b.UART_RX_PIN, b.RS485_DE_PIN, b.LED_PIN, b.ZC_PIN)
            if p is not None]
    assert len(pins) == len(set(pins)), "%s: a pin used twice: %r" % (name, pins)
    for k in b.UNIT_DEFAULTS:
        assert field_index(k) is not None, "%s: UNIT_DEFAULTS names unknown field %s" % (name, k)
    Config(**b.UNIT_DEFAULTS)  # validates, raises ConfigError naming the field
    if b.UART_ID is None:
        assert name == "unix"


def test_mcu_specific_limits():
    from boards import esp32_devkit, pyboard_v11, rp2_pico

    assert rp2_pico.WDT_TIMEOUT_MS <= 8388  # rp2 machine.WDT maximum
    assert pyboard_v11.WDT_TIMEOUT_MS <= 32768  # STM32 IWDG maximum at 32 kHz / 256
    assert (rp2_pico.MPY_ARCH, esp32_devkit.MPY_ARCH, pyboard_v11.MPY_ARCH) == (
        "armv6m", "xtensawin", "armv7emsp")
    smallest = min(b.HEAP_BUDGET_BYTES for b in all_boards() if b.NAME != "unix")
    assert boards.unix.HEAP_BUDGET_BYTES == smallest == 65536


def test_board_lookup():
    assert boards.board_name("rp2", "RPI_PICO") == "rp2_pico"
    assert boards.board_name("esp32", "ESP32_GENERIC") == "esp32_devkit"
    assert boards.board_name("pyboard", None) == "pyboard_v11"
    assert boards.board_name("linux", "standard") == "unix"
    assert boards.board_name("rp2", "SOMETHING_ELSE") == "rp2_pico"  # falls back to the port
    assert boards.board_name("linux", "standard", override="rp2_pico") == "rp2_pico"
    with pytest.raises(ValueError, match="no board for platform 'zephyr'"):
        boards.board_name("zephyr", "X")
    with pytest.raises(ValueError, match="unknown board"):
        boards.board_name("linux", None, override="nope")
    for b in all_boards():
        for build in b.BUILD_IDS:
            assert boards.board_name(b.PLATFORM, build) == b.NAME


def test_board_load_on_the_unix_port():
    r = subprocess.run([str(MICROPYTHON), "-c", "import sys; sys.path.insert(0, '.'); "
                        "import boards; b = boards.load(); print(b.NAME, b.UART_BAUD); "
                        "print(boards.load('esp32_devkit').ZC_PIN)"],
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["unix", "115200", "34"]
