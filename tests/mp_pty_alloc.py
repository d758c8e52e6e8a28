# Unix port: serve Modbus over a real pty with the heap locked after a warm-up (run by
# tests/test_modbus_conformance.py). Prints "replies=N mem_delta=D error=NAME".
import gc
import sys

import micropython

sys.path.insert(0, "firmware")

import time  # noqa: E402

from app import serve  # noqa: E402
from hal.unix_pty import PtyPort  # noqa: E402

from afrr.config import Config  # noqa: E402
from afrr.controller import Controller  # noqa: E402
from afrr.modbus import RTU  # noqa: E402
from afrr.unitregs import UnitRegisters  # noqa: E402


class LockingPort:
    """The real PtyPort; locks the heap after `warm` replies."""

    def __init__(self, port, warm):
        self.p = port
        self.warm = warm
        self.replies = 0
        self.before = 0

    def wait(self, timeout_ms):
        return self.p.wait(timeout_ms)

    def readinto(self, buf):
        return self.p.readinto(buf)

    def write(self, buf, n):
        self.p.write(buf, n)
        self.replies += 1
        if self.replies == self.warm:
            gc.collect()
            self.before = gc.mem_alloc()
            micropython.heap_lock()


def run():
    cfg = Config()
    ctl = Controller(cfg)
    bank = UnitRegisters(ctl, cfg)
    rtu = RTU(bank)
    bank.rtu = rtu
    port = LockingPort(PtyPort(sys.argv[1]), int(sys.argv[2]))
    tm, td = time.ticks_ms, time.ticks_diff
    err = "none"
    try:
        serve(port, rtu, bank, tm, td, 4, strict=False)  # as --target unix runs
    except Exception as e:  # the rig closing the link ends the run
        err = type(e).__name__
    micropython.heap_unlock()
    print("replies=%d mem_delta=%d error=%s" % (port.replies, gc.mem_alloc() - port.before, err))


run()
