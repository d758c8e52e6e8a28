# hal.board_io builds the link and LED from the board data; a ten-line fake stands in for machine.
import importlib

import pytest
from hal.board_io import open_link, status_led, uart_kwargs

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


@pytest.mark.parametrize("name", [n for n in boards.NAMES if n != "unix"])
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


def test_unix_has_no_uart_and_no_led():
    with pytest.raises(ValueError, match="no UART"):
        open_link(UNIX, FakeMachine())
    assert status_led(UNIX, FakeMachine()) is None
    assert uart_kwargs(UNIX)["baudrate"] == 115200


def test_led_starts_off():
    m = FakeMachine()
    led = status_led(importlib.import_module("boards.rp2_pico"), m)
    assert led.id == 25 and led.value() == 0
