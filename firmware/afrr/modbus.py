# Modbus RTU server codec, pure: CRC-16, FC 03/04/06/16/23, exceptions 01/02/03, broadcast.
#
# No I/O and no clock here. The HAL reads bytes into `rtu.chunk` and calls `feed(n)`; it
# calls `complete()` to learn whether the buffered request is whole (length from its header and a
# valid CRC: the lock-step fast path) and `at_silence()` when the line has been quiet for 3.5
# characters (the RTU frame boundary); both return the length of the reply waiting in `rtu.tx`
# (0: nothing to send). Buffers are preallocated; handling a frame allocates nothing.
#
# The register space is a duck-typed `bank`:
#   bank.unit_id                         this server's address (1..247), read per frame
#   bank.read(table, addr, count, tx, pos) -> 0 or exception code; table 3 holding, 4 input;
#                                         fills 2*count bytes big-endian at tx[pos:]
#                                         (tx None: only check the range)
#   bank.write(addr, count, buf, pos)     -> 0 or exception code; values big-endian at buf[pos:];
#                                         all-or-nothing: on an exception nothing changes
from array import array

from afrr.compat import const

EX_ILLEGAL_FUNCTION = const(1)
EX_ILLEGAL_ADDRESS = const(2)
EX_ILLEGAL_VALUE = const(3)

_FC_READ_HOLDING = const(0x03)
_FC_READ_INPUT = const(0x04)
_FC_WRITE_SINGLE = const(0x06)
_FC_WRITE_MULTIPLE = const(0x10)
_FC_READ_WRITE = const(0x17)

# limits per request (spec): read 125 registers, write 123 (FC16) / 121 (FC23)
_MAX_READ = const(125)
_MAX_WRITE = const(123)
_MAX_RW_WRITE = const(121)

BUF_SIZE = const(256)  # largest RTU frame


def _crc_table():
    # 256 x u16 in an array: 512 bytes, where a tuple of ints costs 2 KiB on a 64-bit port
    t = array("H", range(256))
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t[b] = c
    return t


CRC_TABLE = _crc_table()


def crc16(buf, n):
    """Modbus CRC-16 of buf[0:n]; sent low byte first."""
    crc = 0xFFFF
    t = CRC_TABLE
    for i in range(n):
        crc = (crc >> 8) ^ t[(crc ^ buf[i]) & 0xFF]
    return crc


def _crc_ok(buf, n):
    """True when the frame buf[0:n] ends in its own CRC (low byte first)."""
    c = crc16(buf, n - 2)
    return buf[n - 2] == (c & 0xFF) and buf[n - 1] == (c >> 8)


def frame_length(buf, n):
    """Length of the request in buf[0:n] from its header; 0 unknown yet, -1 unknowable."""
    if n < 2:
        return 0
    fc = buf[1]
    if fc == _FC_READ_HOLDING or fc == _FC_READ_INPUT or fc == _FC_WRITE_SINGLE:
        return 8
    if fc == _FC_WRITE_MULTIPLE:
        return 9 + buf[6] if n > 6 else 0
    if fc == _FC_READ_WRITE:
        return 13 + buf[10] if n > 10 else 0
    return -1


class RTU:
    """One Modbus RTU server endpoint: request buffer, reply buffer, link counters."""

    def __init__(self, bank):
        self.bank = bank
        self.rx = bytearray(BUF_SIZE)  # request being assembled
        self.rx_n = 0
        self.overrun = False
        self.chunk = bytearray(64)  # the HAL reads into this, then calls feed(n)
        self.tx = bytearray(BUF_SIZE)  # reply
        self.handled = False  # complete() consumed a request
        self.bcast = False  # the request being handled is a broadcast (the bank reads it)
        # link counters (input registers, see regmap.INPUT)
        self.frames_ok = 0
        self.crc_errors = 0
        self.bytes_dropped = 0
        self.exceptions = 0
        self.frames_other = 0
        self.broadcasts = 0

    def feed(self, n):
        """Append chunk[0:n] to the request buffer."""
        rx = self.rx
        c = self.chunk
        k = self.rx_n
        for i in range(n):
            if k < BUF_SIZE:
                rx[k] = c[i]
                k += 1
            else:
                self.overrun = True
                self.bytes_dropped += 1
        self.rx_n = k

    def feed_bytes(self, data):
        """Convenience for tests and hosts: feed any bytes-like object."""
        i = 0
        n = len(data)
        while i < n:
            k = n - i if n - i < 64 else 64
            for j in range(k):
                self.chunk[j] = data[i + j]
            self.feed(k)
            i += k

    def pending(self):
        return self.rx_n

    def complete(self):
        """Handle the first buffered request if it is whole and valid; returns reply length.

        Sets `handled` when a request was consumed; bytes after it (a second frame that arrived
        in the same read, without its 3.5-character gap) stay buffered: call again while
        `handled` and `pending()`.
        """
        self.handled = False
        n = self.rx_n
        if n < 4 or self.overrun:
            return 0
        need = frame_length(self.rx, n)
        if need <= 0 or n < need:
            return 0
        rx = self.rx
        if not _crc_ok(rx, need):
            return 0  # wait for the silence; it will count as a CRC error
        self.handled = True
        r = self._handle(need)
        for i in range(need, n):  # keep what followed the frame
            rx[i - need] = rx[i]
        self.rx_n = n - need
        return r

    def at_silence(self):
        """The line went quiet: the buffer is one frame. Returns reply length."""
        n = self.rx_n
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
        c = crc16(self.tx, n)
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
                return self._exception(EX_ILLEGAL_VALUE)
            start = (rx[2] << 8) | rx[3]
            count = (rx[4] << 8) | rx[5]
            if count < 1 or count > _MAX_READ:
                return self._exception(EX_ILLEGAL_VALUE)
            ex = bank.read(fc, start, count, tx, 3)
            if ex:
                return self._exception(ex)
            return self._read_reply(count)
        if fc == _FC_WRITE_SINGLE:
            if n != 8:
                return 0 if bcast else self._exception(EX_ILLEGAL_VALUE)
            start = (rx[2] << 8) | rx[3]
            return self._write_reply(bank.write(start, 1, rx, 4), bcast)
        if fc == _FC_WRITE_MULTIPLE:
            start = (rx[2] << 8) | rx[3]
            count = (rx[4] << 8) | rx[5]
            if count < 1 or count > _MAX_WRITE or rx[6] != 2 * count or n != 9 + 2 * count:
                return 0 if bcast else self._exception(EX_ILLEGAL_VALUE)
            return self._write_reply(bank.write(start, count, rx, 7), bcast)
        if fc == _FC_READ_WRITE:
            rstart = (rx[2] << 8) | rx[3]
            rcount = (rx[4] << 8) | rx[5]
            wstart = (rx[6] << 8) | rx[7]
            wcount = (rx[8] << 8) | rx[9]
            if (rcount < 1 or rcount > _MAX_READ or wcount < 1 or wcount > _MAX_RW_WRITE
                    or rx[10] != 2 * wcount or n != 13 + 2 * wcount):
                return 0 if bcast else self._exception(EX_ILLEGAL_VALUE)
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
        return self._exception(EX_ILLEGAL_FUNCTION)


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
    c = crc16(b, len(b))
    b.append(c & 0xFF)
    b.append(c >> 8)
    return bytes(b)
