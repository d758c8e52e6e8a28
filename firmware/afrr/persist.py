# Persisted-state record: pure encode/decode with a format version, a sequence number and CRC-32.
# This module is the encoder a unit runs with (every save); the decoder, run once at start, is
# in hal/store_load.py, so that its code leaves the heap after start.
#
# Layout, little-endian, every word a signed 32-bit integer:
#   0  4 bytes  magic b"AFRS"
#   4  u8       FORMAT (bumped when this layout changes)
#   5  u8       number of config words (must equal config.N_FIELDS)
#   6  u16      number of controller words
#   8  s32      sequence number (0 .. 2**30 - 1, wraps; the newer of two copies is the higher)
#  12  s32 * n  controller words (Controller.state_words())
#  ..  s32 * m  config words, in field order (config.NAMES, the rows of regmap.FIELDS)
#  ..  u32      CRC-32 (IEEE, as zlib.crc32) of every byte before it
# A record from another firmware version (different FORMAT or field count) is rejected like a
# corrupt one: the caller falls back to an older copy or to defaults and raises a fault flag.
# The CRC is computed in two 16-bit halves so no intermediate leaves +-2**30 on a board.
import struct

from afrr.config import N_FIELDS, NAMES

MAGIC = b"AFRS"
FORMAT = 1
_HEAD = 12
_MAX_WORDS = 256  # sanity bound on the controller word count
SEQ_MASK = 0x3FFFFFFF


def crc32(data, n=-1, out=None):
    """CRC-32 (reflected polynomial 0xEDB88320, as zlib.crc32) of data[:n] (n < 0: all of it):
    a (high16, low16) pair, or with `out`, written as a little-endian u32 at out[n:n + 4]
    (encode: no pair to make)."""
    hi = 0xFFFF
    lo = 0xFFFF
    for i in range(len(data) if n < 0 else n):
        lo ^= data[i]
        for _ in range(8):
            carry = hi & 1
            if lo & 1:
                lo = ((lo >> 1) | (carry << 15)) ^ 0x8320
                hi = (hi >> 1) ^ 0xEDB8
            else:
                lo = (lo >> 1) | (carry << 15)
                hi >>= 1
    if out is None:
        return hi ^ 0xFFFF, lo ^ 0xFFFF
    struct.pack_into("<HH", out, n, lo ^ 0xFFFF, hi ^ 0xFFFF)


def config_words(cfg, w=None):
    """The config as ints in field order (config.NAMES): into the list w (N_FIELDS long, reused
    by the state saver: a save on a fragmented heap makes no list) or a new list; returns it."""
    if w is None:
        w = [0] * N_FIELDS
    for i in range(N_FIELDS):
        w[i] = getattr(cfg, NAMES[i])
    return w


def record_size(n):
    """Bytes of a record with n controller words."""
    return _HEAD + 4 * (n + N_FIELDS) + 4


def encode(seq, ctl_words, cfg_words, buf=None):
    """One record: into buf (a bytearray of record_size(len(ctl_words)) bytes, the state saver's
    own, so that a save on a full heap makes no copy) or a new bytearray; returns it. Raises
    ValueError for a word outside s32 or bad counts."""
    n = len(ctl_words)
    m = len(cfg_words)
    if n > _MAX_WORDS or m != N_FIELDS:
        raise ValueError("word counts")
    if buf is None:
        buf = bytearray(record_size(n))
    elif len(buf) != record_size(n):
        raise ValueError("record buffer size")
    struct.pack_into("<4sBBHi", buf, 0, MAGIC, FORMAT, m, n, seq & SEQ_MASK)
    off = _HEAD
    for w in ctl_words:
        struct.pack_into("<i", buf, off, w)
        off += 4
    for w in cfg_words:
        struct.pack_into("<i", buf, off, w)
        off += 4
    crc32(buf, off, buf)
    return buf
