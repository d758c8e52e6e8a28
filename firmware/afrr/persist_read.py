# Decoding a persisted-state record (layout: afrr/persist.py): the start-only half of the codec.
# A unit reads its state once, at start (hal/store_load.py); app.start() then drops this module
# from sys.modules, so its code does not stay in the heap while the unit runs.
import struct

from afrr.config import FIELDS, N_FIELDS, ConfigError, load
from afrr.persist import _HEAD, _MAX_WORDS, FORMAT, MAGIC, SEQ_MASK, crc32


class PersistError(ValueError):
    """A record that cannot be used; `reason` is one short word for logs and tests."""

    def __init__(self, reason):
        super().__init__("state record: " + reason)
        self.reason = reason


def config_from_words(words):
    """A validated Config from config_words(); raises PersistError('config') if invalid."""
    if len(words) != N_FIELDS:
        raise PersistError("layout")
    try:
        return load({FIELDS[i][0]: words[i] for i in range(N_FIELDS)})
    except ConfigError:
        raise PersistError("config")


def decode(buf):
    """(seq, ctl_words, cfg_words) from a record; raises PersistError on anything wrong."""
    if len(buf) < _HEAD + 4:
        raise PersistError("short")
    if bytes(buf[0:4]) != MAGIC:
        raise PersistError("magic")
    fmt, m, n, seq = struct.unpack_from("<BBHi", buf, 4)
    if fmt != FORMAT:
        raise PersistError("version")
    if n > _MAX_WORDS:
        raise PersistError("length")
    end = _HEAD + 4 * (n + m)
    if len(buf) != end + 4:
        raise PersistError("short" if len(buf) < end + 4 else "length")
    lo, hi = struct.unpack_from("<HH", buf, end)
    if crc32(memoryview(buf)[:end]) != (hi, lo):
        raise PersistError("crc")
    if m != N_FIELDS:
        raise PersistError("layout")
    if seq < 0 or seq > SEQ_MASK:
        raise PersistError("seq")
    ctl = [struct.unpack_from("<i", buf, _HEAD + 4 * i)[0] for i in range(n)]
    cfg = [struct.unpack_from("<i", buf, _HEAD + 4 * (n + i))[0] for i in range(m)]
    return seq, ctl, cfg


def newer(a, b):
    """True if sequence number a is newer than b (wrapping at 2**30)."""
    d = (a - b) & SEQ_MASK
    return 0 < d < 0x20000000  # half the 2**30 sequence space
