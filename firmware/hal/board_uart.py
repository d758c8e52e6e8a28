# Serial link on a board: machine.UART with an optional RS-485 driver-enable pin.
#
# Minimal glue with the same duck type as unix_pty.PtyPort; the boards work (issue 5) builds the
# UART from the board module and passes it here. Kept apart so the Unix port never imports machine.
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
