# Zero-crossing input: a hard pin IRQ stores tick timestamps in a preallocated ring buffer.
#
# The handler does one ticks read, one masked store into an array and one index update: no
# allocation, no float, so it is legal as a hard IRQ. The control loop calls drain(meter) to
# hand the stored timestamps, in order, to afrr.freqmeas.FreqMeter, then meter.read(zc.now()).
# Timestamps are masked to 30 bits on every port (ticks_us already wraps there on 32-bit
# boards; the 64-bit Unix port wraps later), so FreqMeter runs with tick_period = 2**30.
#
# machine is imported only in attach(), the board-specific path; tests drive irq() directly
# with a fake ticks function.
from array import array

TICK_MASK = 0x3FFFFFFF  # 2**30 - 1
TICK_PERIOD = 0x40000000  # pass as FreqMeter(tick_period=...)


class ZeroCross:
    """Ring buffer of edge timestamps, filled by irq(), emptied by drain()."""

    def __init__(self, ticks_us, size=64):
        if size < 4 or size & (size - 1):
            raise ValueError("size: a power of two >= 4")
        self._ticks = ticks_us
        self._size = size
        self._mask = size - 1
        self._buf = array("i", [0] * size)  # ticks, masked to 30 bits
        self._w = array("i", [0])  # write count (wraps at 2**30), written only by irq()
        self._r = 0  # read count, only the loop touches it
        self.n_overrun = 0

    def irq(self, _pin=None):
        """Pin handler: store the timestamp. Allocates nothing."""
        w = self._w[0]
        self._buf[w & self._mask] = self._ticks() & TICK_MASK
        self._w[0] = (w + 1) & TICK_MASK

    def now(self):
        """The current tick on the same 30-bit scale, for FreqMeter.read(now)."""
        return self._ticks() & TICK_MASK

    def drain(self, meter):
        """Pass every stored edge to meter.add_edge(); returns how many.

        If more edges arrived than the ring holds since the last drain, some were overwritten:
        the meter is told (meter.overrun(), a restart and a warm-up flag) instead of being fed
        a gap that would look like missed edges.
        """
        w = self._w[0]
        r = self._r
        n = (w - r) & TICK_MASK
        if n > self._size:
            meter.overrun()
            self.n_overrun = (self.n_overrun + 1) & TICK_MASK
            self._r = w
            return 0
        mask = self._mask
        buf = self._buf
        while r != w:
            meter.add_edge(buf[r & mask])
            r = (r + 1) & TICK_MASK
        self._r = r
        return n


def attach(board, size=64):
    """Start zero-crossing capture on board.ZC_PIN (rising edges); None if the board has none."""
    if board.ZC_PIN is None:
        return None
    import time

    import machine

    zc = ZeroCross(time.ticks_us, size)
    pin = machine.Pin(board.ZC_PIN, machine.Pin.IN)
    try:
        pin.irq(trigger=machine.Pin.IRQ_RISING, handler=zc.irq, hard=True)
    except TypeError:  # a port without hard pin IRQs: soft IRQ, more latency jitter
        pin.irq(trigger=machine.Pin.IRQ_RISING, handler=zc.irq)
    zc.pin = pin
    return zc
