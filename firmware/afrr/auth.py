# Authenticated commands: truncated HMAC-SHA256, the replay rule and the write lock. Pure: no
# clock (the unlock runs down with the control steps' dt), no file (the key and the sequence
# floor come in and go out through the caller, firmware/hal/keystore.py on a unit).
#
# HMAC is RFC 2104 over the port's hashlib.sha256. hashlib with SHA-256 is in the MicroPython
# core (py/mpconfig.h: MICROPY_PY_HASHLIB from the "extra features" ROM level, which the rp2,
# esp32, stm32 and unix ports use, and MICROPY_PY_HASHLIB_SHA256 defaults to 1 with it); the
# QEMU build enables it explicitly. The MAC is the first 16 bytes (128 bits) of the HMAC, as
# RFC 2104 section 5 allows (at least half the hash length).
#
# Command frame: one FC16 write of the whole block regmap.AUTH (14 registers). The MAC covers
# the unit id byte followed by the 12 bytes of key id, sequence, command and value exactly as
# they are on the wire. Replay rule: a sequence number is accepted only when it is above the last
# accepted one (window 0: no reordering tolerated; the TSO sends one command at a time).
import hashlib

from afrr.compat import const

MAC_BYTES = const(16)
KEY_MIN = const(16)  # bytes
KEY_MAX = const(64)  # bytes: one SHA-256 block, so the key is never hashed first
UNLOCK_MAX_MS = const(600000)  # an unlock lasts at most 10 min of control-step time
RESERVE = const(4096)  # sequence numbers reserved ahead in the persisted floor

CMD_SETPOINT = const(1)  # value: TSO set-point, kW
CMD_MODE = const(2)  # value: mode 0..2
CMD_UNLOCK = const(3)  # value: ms the write lock stays open (0: lock now)

OK = const(0)
BAD_KEY = const(1)  # unknown key id, or no key provisioned
BAD_MAC = const(2)
REPLAY = const(3)  # sequence number not above the last accepted
BAD_STORE = const(4)  # the sequence floor could not be persisted


def hmac_sha256(key, msg):
    """HMAC-SHA256 of msg under key (len(key) <= 64), 32 bytes."""
    pad = bytearray(64)
    for i in range(len(key)):
        pad[i] = key[i]
    for i in range(64):
        pad[i] ^= 0x36
    h = hashlib.sha256(pad)
    h.update(msg)
    inner = h.digest()
    for i in range(64):
        pad[i] ^= 0x36 ^ 0x5C
    h = hashlib.sha256(pad)
    h.update(inner)
    return h.digest()


def same(a, pa, b, n):
    """a[pa:pa + n] == b[0:n], in a time that does not depend on where they differ."""
    d = 0
    for i in range(n):
        d |= a[pa + i] ^ b[i]
    return d == 0


class Auth:
    """The unit's key, the last accepted sequence number and the write lock.

    `key` None: no key provisioned; nothing authenticates and the lock never opens.
    `floor`: the persisted sequence floor (every number up to it counts as used).
    `reserve`: callable(new_floor) that persists a floor before a sequence number above the old
    one is accepted (raises OSError on failure), or None (nothing persisted: tests).
    """

    def __init__(self, key=None, key_id=0, floor=0, reserve=None):
        self.key = key
        self.key_id = key_id
        self.auth_seq_hi = (floor >> 16) & 0xFFFF  # last accepted sequence number, 16-bit halves
        self.auth_seq_lo = floor & 0xFFFF  # (a 32-bit value is not a small int on a 32-bit board)
        self.floor = floor
        self.reserve = reserve
        self.unlock_ms = 0  # ms the write lock stays open
        self.msg = bytearray(13)  # unit id + key id, sequence, command, value

    def check(self, unit_id, buf, p):
        """Verify the command at buf[p:p + 28] (regmap.AUTH layout); OK or a reason code.

        On OK the sequence number is taken (a second frame with it is a replay).
        """
        if self.key is None or ((buf[p] << 8) | buf[p + 1]) != self.key_id:
            return BAD_KEY
        hi = (buf[p + 2] << 8) | buf[p + 3]
        lo = (buf[p + 4] << 8) | buf[p + 5]
        if hi < self.auth_seq_hi or (hi == self.auth_seq_hi and lo <= self.auth_seq_lo):
            return REPLAY
        msg = self.msg
        msg[0] = unit_id
        for i in range(12):
            msg[1 + i] = buf[p + i]
        if not same(buf, p + 12, hmac_sha256(self.key, msg), MAC_BYTES):
            return BAD_MAC
        seq = (hi << 16) | lo
        if seq > self.floor:
            new = seq + RESERVE
            if new > 0xFFFFFFFF:
                new = 0xFFFFFFFF
            if self.reserve is not None:
                try:
                    self.reserve(new)
                except OSError:
                    return BAD_STORE
            self.floor = new
        self.auth_seq_hi = hi
        self.auth_seq_lo = lo
        return OK

    def tick(self, dt_ms):
        """The write lock runs down with control-step time."""
        if self.unlock_ms:
            self.unlock_ms = self.unlock_ms - dt_ms if self.unlock_ms > dt_ms else 0


def parse_key(text):
    """(key id, key bytes) from a key file's text "<key id> <key as hex>"; ValueError if bad."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError("key file: want '<key id> <key as hex>'")
    h = parts[1]
    try:
        kid = int(parts[0])
        key = bytes([int(h[i:i + 2], 16) for i in range(0, len(h), 2)])
    except ValueError:
        raise ValueError("key file: key id or hex key malformed")
    if not 1 <= kid <= 65535 or len(h) & 1 or not KEY_MIN <= len(key) <= KEY_MAX:
        raise ValueError("key file: key id 1..65535, key 16..64 bytes")
    return kid, key
