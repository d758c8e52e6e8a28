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
#  ..  s32 * m  config words, config.FIELDS order
#  ..  u32      CRC-32 (IEEE, as zlib.crc32) of every byte before it
# A record from another firmware version (different FORMAT or field count) is rejected like a
# corrupt one: the caller falls back to an older copy or to defaults and raises a fault flag.
# The CRC is computed in two 16-bit halves so no intermediate leaves +-2**30 on a board.
import struct

from afrr.config import FIELDS, N_FIELDS

MAGIC = b"AFRS"
FORMAT = 1
_HEAD = 12
_MAX_WORDS = 256  # sanity bound on the controller word count
SEQ_MASK = 0x3FFFFFFF


def crc32(data):
    """CRC-32 (reflected polynomial 0xEDB88320, as zlib.crc32) as a (high16, low16) pair."""
    hi = 0xFFFF
    lo = 0xFFFF
    for b in data:
        lo ^= b
        for _ in range(8):
            carry = hi & 1
            if lo & 1:
                lo = ((lo >> 1) | (carry << 15)) ^ 0x8320
                hi = (hi >> 1) ^ 0xEDB8
            else:
                lo = (lo >> 1) | (carry << 15)
                hi >>= 1
    return hi ^ 0xFFFF, lo ^ 0xFFFF


def config_words(cfg):
    """The config as a list of ints in FIELDS order."""
    return [getattr(cfg, f[0]) for f in FIELDS]


def encode(seq, ctl_words, cfg_words):
    """One record (a bytearray: no copy, the save runs on a full heap). Raises ValueError for a
    word outside s32 or bad counts."""
    n = len(ctl_words)
    m = len(cfg_words)
    if n > _MAX_WORDS or m != N_FIELDS:
        raise ValueError("word counts")
    buf = bytearray(_HEAD + 4 * (n + m) + 4)
    buf[0:4] = MAGIC
    struct.pack_into("<BBHi", buf, 4, FORMAT, m, n, seq & SEQ_MASK)
    off = _HEAD
    for w in ctl_words:
        struct.pack_into("<i", buf, off, w)
        off += 4
    for w in cfg_words:
        struct.pack_into("<i", buf, off, w)
        off += 4
    hi, lo = crc32(memoryview(buf)[:off])
    struct.pack_into("<HH", buf, off, lo, hi)
    return buf
