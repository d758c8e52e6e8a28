# Serial link on a board whose Modbus link is its REPL UART (stdin/stdout): the emulated MPS2
# board under QEMU (UART0 carries the REPL), and boards that talk to the rig over USB-CDC.
#
# Same duck type as unix_pty.PtyPort and board_uart.UartPort. Raw bytes both ways (the .buffer
# streams: no newline translation, no echo once the REPL has handed over). Ctrl-C (0x03) is data
# on this link, so keyboard interrupts are switched off first. Nothing else may print while the
# link serves: every byte on stdout reaches the rig.
import select
import sys


class StdioPort:
    def __init__(self, stdin=None, stdout=None, kbd_intr=None):
        if kbd_intr is None:
            import micropython

            kbd_intr = micropython.kbd_intr
        kbd_intr(-1)  # 0x03 in a frame must not raise KeyboardInterrupt
        self._kbd_intr = kbd_intr
        self._in = stdin if stdin is not None else sys.stdin.buffer
        self._out = stdout if stdout is not None else sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        # ipoll allocates nothing (MicroPython); CPython (tests) has only poll
        self._ipoll = getattr(self._poll, "ipoll", self._poll.poll)
        self._b1 = bytearray(1)

    def _ready(self, timeout_ms):
        for _obj, _ev in self._ipoll(timeout_ms):
            return True
        return False

    def wait(self, timeout_ms):
        """True when input is waiting on stdin."""
        return self._ready(timeout_ms)

    def readinto(self, buf):
        """What is waiting, up to len(buf) bytes. A stdin read blocks until its buffer is full,
        so bytes are taken one at a time while the poll says more are waiting."""
        b1 = self._b1
        n = 0
        cap = len(buf)
        while n < cap and self._ready(0):
            self._in.readinto(b1)
            buf[n] = b1[0]
            n += 1
        return n

    def write(self, buf, n):
        self._out.write(memoryview(buf)[:n])

    def close(self):
        self._kbd_intr(3)  # Ctrl-C interrupts again
