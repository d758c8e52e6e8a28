# Modbus RTU server codec, pure: CRC-16, FC 03/04/06/16/23, exceptions 01/02/03, broadcast.
#
# No clock here, and no I/O but a duck-typed port's readinto(): the loop calls `receive(port)`
# when bytes wait (a test may put bytes in with `feed_bytes`), `complete()` to learn whether the
# buffered request is whole (length from its header and a valid CRC: the lock-step fast path) and
# `at_silence()` when the line has been quiet for 3.5 characters (the RTU frame boundary); both
# return the length of the reply waiting in `rtu.tx` (0: nothing to send). Buffers are
# preallocated; handling a frame allocates nothing.
#
# The register space is a duck-typed `bank`:
#   bank.unit_id                         this server's address (1..247), read per frame
#   bank.read(table, addr, count, tx, pos) -> 0 or exception code; table 3 holding, 4 input;
#                                         fills 2*count bytes big-endian at tx[pos:]
#                                         (tx None: only check the range)
#   bank.write(addr, count, buf, pos)     -> 0 or exception code; values big-endian at buf[pos:];
#                                         all-or-nothing: on an exception nothing changes
from afrr.compat import const, micropython

_EX_ILLEGAL_FUNCTION = const(1)
_EX_ILLEGAL_ADDRESS = const(2)
_EX_ILLEGAL_VALUE = const(3)

_FC_READ_HOLDING = const(0x03)
_FC_READ_INPUT = const(0x04)
_FC_WRITE_SINGLE = const(0x06)
_FC_WRITE_MULTIPLE = const(0x10)
_FC_READ_WRITE = const(0x17)

# limits per request (spec): read 125 registers, write 123 (FC16) / 121 (FC23)
_MAX_READ = const(125)
_MAX_WRITE = const(123)
_MAX_RW_WRITE = const(121)

_BUF_SIZE = const(256)  # largest RTU frame
_CHUNK = const(64)  # bytes per read into a request already begun (the first read goes to rx)


@micropython.viper
def crc16(buf, n: int, o: int) -> int:
    """Modbus CRC-16 of buf[o:o + n] (sent low byte first); buf must hold them: on MicroPython
    nothing checks."""
    # viper (machine words, byte loads): in bytecode the CRC over a lock-step request and its
    # reply took a fifth of the firmware's time per transaction. A nibble at a time: t holds
    # the CRC of each 4-bit value (reflected polynomial 0xA001) as 16 little-endian u16, 32
    # bytes where a byte-wide table took 512 bytes of heap. (A bounds check would cost 160
    # bytes of .mpy on a board; every caller here passes a range inside its buffer.)
    b = ptr8(buf)
    t = ptr8(b"\x00\x00\x01\xcc\x01\xd8\x00\x14\x01\xf0\x00\x3c\x00\x28\x01\xe4"
             b"\x01\xa0\x00\x6c\x00\x78\x01\xb4\x00\x50\x01\x9c\x01\x88\x00\x44")
    crc = 0xFFFF
    for i in range(o, o + n):
        crc ^= b[i]
        k = (crc & 0xF) << 1
        crc = (crc >> 4) ^ (t[k] | (t[k + 1] << 8))
        k = (crc & 0xF) << 1
        crc = (crc >> 4) ^ (t[k] | (t[k + 1] << 8))
    return crc


try:
    from afrr.compat import ptr8  # CPython: viper's cast as the identity
except ImportError:  # MicroPython: the compiler makes it a cast
    pass
else:
    # CPython runs the viper code above as plain Python, a nibble at a time: 3x slower than a
    # byte at a time. The host (the rig's cpython target, tests) gets a byte-wide table T, made
    # by the nibble code (the CRC of one byte b is T[b ^ 0xFF] ^ 0xFF); both give the spec's
    # CRC (tests/firmware/test_modbus_codec.py, on both runtimes).
    _crc16_nibble = crc16
    _T = [crc16(bytes([b ^ 0xFF]), 1, 0) ^ 0xFF for b in range(256)]

    def crc16(buf, n, o):
        """Modbus CRC-16 of buf[o:o + n]; sent low byte first."""
        crc = 0xFFFF
        t = _T
        for i in range(o, o + n):
            crc = (crc >> 8) ^ t[(crc ^ buf[i]) & 0xFF]
        return crc


def _crc_ok(buf, n, o=0):
    """True when the frame buf[o:o + n] ends in its own CRC (low byte first)."""
    c = crc16(buf, n - 2, o)
    return buf[o + n - 2] == (c & 0xFF) and buf[o + n - 1] == (c >> 8)


def frame_length(buf, n, o=0):
    """Length of the request at buf[o:n] from its header; 0 unknown yet, -1 unknowable."""
    if n - o < 2:
        return 0
    fc = buf[o + 1]
    if fc == _FC_READ_HOLDING or fc == _FC_READ_INPUT or fc == _FC_WRITE_SINGLE:
        return 8
    if fc == _FC_WRITE_MULTIPLE:
        return 9 + buf[o + 6] if n - o > 6 else 0
    if fc == _FC_READ_WRITE:
        return 13 + buf[o + 10] if n - o > 10 else 0
    return -1


class RTU:
    """One Modbus RTU server endpoint: request buffer, reply buffer, link counters."""

    def __init__(self, bank):
        self.bank = bank
        self.rx = bytearray(_BUF_SIZE)  # request being assembled
        self.rx_n = 0
        self.overrun = False
        self.chunk = bytearray(_CHUNK)  # the HAL reads into this, then calls feed(n)
        self.tx = bytearray(_BUF_SIZE)  # reply
        self.handled = False  # complete() consumed a request
        self.bcast = False  # the request being handled is a broadcast (the bank reads it)
        self.held = 0  # fast path: rx_n when a silence was held off (a frame still arriving)
        # link counters (input registers, see regmap.INPUT)
        self.frames_ok = 0
        self.crc_errors = 0
        self.bytes_dropped = 0
        self.exceptions = 0
        self.frames_other = 0
        self.broadcasts = 0

    def receive(self, port):
        """Read what `port` has waiting (its readinto()); returns the byte count. A read into
        an empty buffer lands in rx itself (a request read at once is not copied)."""
        if self.rx_n:
            n = port.readinto(self.chunk)
            self.feed(n)
        else:
            n = port.readinto(self.rx)
            self.rx_n = n
        return n

    def feed(self, n, src=None):
        """Append src[0:n] (default: chunk) to the request buffer."""
        rx = self.rx
        c = self.chunk if src is None else src
        k = self.rx_n
        for i in range(n):
            if k < _BUF_SIZE:
                rx[k] = c[i]
                k += 1
            else:
                self.overrun = True
                self.bytes_dropped += 1
        self.rx_n = k

    if __debug__:  # host and test helper (left out of an optimised build: see the end)
        def feed_bytes(self, data):
            """Feed any bytes-like object."""
            self.feed(len(data), data)

    def pending(self):
        return self.rx_n

    def complete(self):
        """Fast path (not RTU as specified): handle the first buffered request as soon as its
        header's length and its CRC say it is whole; returns the reply length.

        Sets `handled` when a request was consumed; bytes after it (a second frame that arrived
        in the same read, without its 3.5-character gap) stay buffered: call again while
        `handled` and `pending()`. When the buffer does not start with a whole valid request
        but a whole valid request for this unit follows (the client's retry behind a frame that
        lost or changed bytes), the bytes before it count as one CRC error and it is handled.
        """
        self.handled = False
        n = self.rx_n
        if n < 4 or self.overrun:
            return 0
        rx = self.rx
        need = frame_length(rx, n)
        if need <= 0 or n < need or not _crc_ok(rx, need):
            o = self._resync(n)
            if not o:
                return 0  # wait for the rest, a later request, or the silence
            need = frame_length(rx, n, o)
            self.crc_errors += 1
            self.bytes_dropped += o
            for i in range(o, n):
                rx[i - o] = rx[i]
            n -= o
        self.handled = True
        self.held = 0
        r = self._handle(need)
        for i in range(need, n):  # keep what followed the frame
            rx[i - need] = rx[i]
        self.rx_n = n - need
        return r

    def _resync(self, n):
        """Offset (> 0) of the first whole valid request for this unit in rx[1:n], or 0."""
        rx = self.rx
        uid = self.bank.unit_id
        for i in range(1, n - 3):
            if rx[i] == uid or rx[i] == 0:
                k = frame_length(rx, n, i)
                if k > 0 and i + k <= n and _crc_ok(rx, k, i):
                    return i
        return 0

    def quiet(self):
        """Fast path's silence: returns the reply length (0: none).

        Bytes that were there at an earlier held silence are a frame of their
        own: one bad frame (a corrupted request whose header promised more bytes). Then a
        request for this unit still short of its length is held again (the rest may be on its
        way: call again only once more bytes came), and anything else ends at the silence as
        in at_silence().
        """
        h = self.held
        n = self.rx_n
        self.held = 0
        if h and h < n:
            rx = self.rx
            self.crc_errors += 1
            self.bytes_dropped += h
            for i in range(h, n):
                rx[i - h] = rx[i]
            self.rx_n = n - h
        # a request for this unit (or broadcast) still short of its header's length: hold it
        n = self.rx_n
        a = self.rx[0]
        if n and not self.overrun and (a == self.bank.unit_id or a == 0):
            need = frame_length(self.rx, n)
            if need == 0 or need > n:
                self.held = n
                return 0
        return self.at_silence()

    def at_silence(self):
        """The line went quiet: the buffer is one frame. Returns reply length."""
        n = self.rx_n
        self.held = 0
        if n == 0:
            return 0
        self.rx_n = 0
        if self.overrun or n < 4 or not _crc_ok(self.rx, n):
            self.overrun = False
            self.crc_errors += 1
            self.bytes_dropped += n
            return 0
        return self._handle(n)

    def _exception(self, code):
        tx = self.tx
        tx[0] = self.rx[0]
        tx[1] = self.rx[1] | 0x80
        tx[2] = code
        self.exceptions += 1
        return self._seal(3)

    def _seal(self, n):
        c = crc16(self.tx, n, 0)
        self.tx[n] = c & 0xFF
        self.tx[n + 1] = c >> 8
        return n + 2

    def _read_reply(self, count):
        """FC03/04/23 answer: the header before the `count` registers the bank put at tx[3:]."""
        tx = self.tx
        tx[0] = self.rx[0]
        tx[1] = self.rx[1]
        tx[2] = 2 * count
        return self._seal(3 + 2 * count)

    def _write_reply(self, ex, bcast):
        """FC06/FC16 answer: none to a broadcast, else the exception or the echoed header."""
        if bcast:
            return 0
        if ex:
            return self._exception(ex)
        rx = self.rx
        tx = self.tx
        for i in range(6):
            tx[i] = rx[i]
        return self._seal(6)

    def _handle(self, n):
        """A request with a valid CRC in rx[0:n]; returns the reply length (0: none)."""
        rx = self.rx
        tx = self.tx
        bank = self.bank
        addr = rx[0]
        bcast = addr == 0
        if not bcast and addr != bank.unit_id:
            self.frames_other += 1
            return 0
        self.frames_ok += 1
        if bcast:
            self.broadcasts += 1
        self.bcast = bcast  # the bank refuses what a broadcast may not change
        fc = rx[1]
        if fc == _FC_READ_HOLDING or fc == _FC_READ_INPUT:
            if bcast:
                return 0  # a read cannot be broadcast
            if n != 8:
                return self._exception(_EX_ILLEGAL_VALUE)
            start = (rx[2] << 8) | rx[3]
            count = (rx[4] << 8) | rx[5]
            if count < 1 or count > _MAX_READ:
                return self._exception(_EX_ILLEGAL_VALUE)
            ex = bank.read(fc, start, count, tx, 3)
            if ex:
                return self._exception(ex)
            return self._read_reply(count)
        if fc == _FC_WRITE_SINGLE:
            if n != 8:
                return 0 if bcast else self._exception(_EX_ILLEGAL_VALUE)
            start = (rx[2] << 8) | rx[3]
            return self._write_reply(bank.write(start, 1, rx, 4), bcast)
        if fc == _FC_WRITE_MULTIPLE:
            start = (rx[2] << 8) | rx[3]
            count = (rx[4] << 8) | rx[5]
            if count < 1 or count > _MAX_WRITE or rx[6] != 2 * count or n != 9 + 2 * count:
                return 0 if bcast else self._exception(_EX_ILLEGAL_VALUE)
            return self._write_reply(bank.write(start, count, rx, 7), bcast)
        if fc == _FC_READ_WRITE:
            rstart = (rx[2] << 8) | rx[3]
            rcount = (rx[4] << 8) | rx[5]
            wstart = (rx[6] << 8) | rx[7]
            wcount = (rx[8] << 8) | rx[9]
            if (rcount < 1 or rcount > _MAX_READ or wcount < 1 or wcount > _MAX_RW_WRITE
                    or rx[10] != 2 * wcount or n != 13 + 2 * wcount):
                return 0 if bcast else self._exception(_EX_ILLEGAL_VALUE)
            ex = 0 if bcast else bank.read(_FC_READ_HOLDING, rstart, rcount, None, 0)
            if not ex:  # the read range is valid: write first, then read (the spec's order)
                ex = bank.write(wstart, wcount, rx, 11)
            if bcast:
                return 0
            if ex:
                return self._exception(ex)
            bank.read(_FC_READ_HOLDING, rstart, rcount, tx, 3)
            return self._read_reply(rcount)
        if bcast:
            return 0
        return self._exception(_EX_ILLEGAL_FUNCTION)


# For the host and the tests only: the public names of the constants above and a request
# builder (and RTU.feed_bytes above). An optimised build (mpy-cross -O3,
# tools/build_firmware.py) compiles `__debug__` as False and leaves these blocks out of a
# board's heap.
if __debug__:
    EX_ILLEGAL_FUNCTION = _EX_ILLEGAL_FUNCTION
    EX_ILLEGAL_ADDRESS = _EX_ILLEGAL_ADDRESS
    EX_ILLEGAL_VALUE = _EX_ILLEGAL_VALUE
    BUF_SIZE = _BUF_SIZE

    def build_request(unit, fc, *words, data=()):
        """Host/test helper: an RTU request from header words and register values (allocates)."""
        b = bytearray([unit, fc])
        for w in words:
            b.append((w >> 8) & 0xFF)
            b.append(w & 0xFF)
        if data:
            b.append(2 * len(data))
            for w in data:
                b.append((w >> 8) & 0xFF)
                b.append(w & 0xFF)
        c = crc16(b, len(b), 0)
        b.append(c & 0xFF)
        b.append(c >> 8)
        return bytes(b)
