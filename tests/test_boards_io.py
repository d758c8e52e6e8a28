# hal.board_io builds the link and LED from the board data; a ten-line fake stands in for machine.
import importlib
import io
import os

import pytest
from hal.board_io import open_link, status_led, uart_kwargs
from hal.stdio_link import StdioPort

import boards

UNIX = importlib.import_module("boards.unix")


class FakeMachine:
    """Records what the firmware asks for; the duck type of machine.UART / machine.Pin."""

    def __init__(self):
        self.made = []
        outer = self

        class Pin:
            OUT = 1

            def __init__(self, pin_id, mode=None, value=None):
                self.id, self.mode, self.v = pin_id, mode, value
                outer.made.append(("pin", pin_id, mode, value))

            def value(self, v=None):
                if v is not None:
                    self.v = v
                return self.v

        class UART:
            def __init__(self, uart_id, **kw):
                outer.made.append(("uart", uart_id, kw))

        self.Pin, self.UART = Pin, UART


UART_BOARDS = [n for n in boards.NAMES if n != "unix"
               and getattr(importlib.import_module("boards." + n), "LINK", "uart") == "uart"]


@pytest.mark.parametrize("name", UART_BOARDS)
def test_link_from_board_data(name):
    b = importlib.import_module("boards." + name)
    m = FakeMachine()
    port = open_link(b, m)
    uarts = [x for x in m.made if x[0] == "uart"]
    assert len(uarts) == 1 and uarts[0][1] == b.UART_ID
    kw = uarts[0][2]
    assert kw["baudrate"] == b.UART_BAUD and kw["bits"] == 8 and kw["parity"] is None
    if name == "pyboard_v11":
        assert "tx" not in kw  # stm32 UARTs have fixed pins
    else:
        assert kw["tx"].id == b.UART_TX_PIN and kw["rx"].id == b.UART_RX_PIN
    de = [x for x in m.made if x[0] == "pin" and x[1] == b.RS485_DE_PIN]
    if b.RS485_DE_PIN is None:
        assert port._de is None
    else:
        assert de == [("pin", b.RS485_DE_PIN, 1, 0)] and port._de.value() == 0
    assert port._char_us == 87  # 10 bits at 115200 baud


def test_stdio_link_is_raw_bytes_without_keyboard_interrupt():
    r, w = os.pipe()
    calls = []
    out = io.BytesIO()
    with open(r, "rb", buffering=0) as fin:
        port = StdioPort(fin, out, calls.append)
        assert calls == [-1]  # Ctrl-C off before any byte is read
        assert not port.wait(0)
        os.write(w, b"\x01\x03\r\n\xff\x00")  # 0x03 and CR LF are data here
        assert port.wait(1000)
        two = bytearray(2)
        assert port.readinto(two) == 2 and bytes(two) == b"\x01\x03"  # never past the buffer
        buf = bytearray(64)
        assert port.readinto(buf) == 4 and bytes(buf[:4]) == b"\r\n\xff\x00"
        assert port.readinto(buf) == 0 and not port.wait(0)  # nothing waiting: no block
        port.write(bytearray(b"\x01\x03\x00tail"), 3)
        assert out.getvalue() == b"\x01\x03\x00"  # exactly n bytes, nothing added
        port.close()
        assert calls == [-1, 3]
    os.close(w)


def test_a_stdio_board_gets_the_stdio_link(monkeypatch):
    made = []
    monkeypatch.setattr("hal.stdio_link.StdioPort.__init__",
                        lambda self, *a: made.append(a))
    port = open_link(importlib.import_module("boards.qemu_mps2"), FakeMachine())
    assert isinstance(port, StdioPort) and made == [()]


def test_unix_has_no_uart_and_no_led():
    with pytest.raises(ValueError, match="no UART"):
        open_link(UNIX, FakeMachine())
    assert status_led(UNIX, FakeMachine()) is None
    assert uart_kwargs(UNIX)["baudrate"] == 115200


def test_led_starts_off():
    m = FakeMachine()
    led = status_led(importlib.import_module("boards.rp2_pico"), m)
    assert led.id == 25 and led.value() == 0
