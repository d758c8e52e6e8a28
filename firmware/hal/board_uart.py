# Serial link on a board: machine.UART with an optional RS-485 driver-enable pin.
#
# Same duck type as unix_pty.PtyPort; hal/board_io.open_link builds the
# UART and the DE pin from the board module and wraps them here. Kept apart from unix_pty so
# the Unix port never touches machine.
import time


class LinkClosed(Exception):
    pass


class UartPort:
    def __init__(self, uart, de_pin=None, char_us=87):
        self._u = uart  # machine.UART, already configured (baud, pins)
        self._de = de_pin  # RS-485 driver enable (high = transmit), or None
        self._char_us = char_us  # one character on the line, us (10 bits / baud)
        if de_pin is not None:
            de_pin.value(0)

    def wait(self, timeout_ms):
        t0 = time.ticks_ms()
        while not self._u.any():
            if time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                return False
            time.sleep_ms(1)
        return True

    def readinto(self, buf):
        return self._u.readinto(buf) or 0

    def write(self, buf, n):
        if self._de is not None:
            self._de.value(1)
        self._u.write(memoryview(buf)[:n])
        if self._de is not None:
            # hold the driver until the last character has left the shift register
            if hasattr(self._u, "flush"):
                self._u.flush()
            else:
                time.sleep_us(n * self._char_us)
            self._de.value(0)

    def close(self):
        pass


def silence_ms(baud):
    """3.5 characters, at least the spec's 1.75 ms above 19 200 baud, rounded up to 2 ms."""
    ms = (35000 + baud - 1) // baud + 1
    return ms if ms > 2 else 2
