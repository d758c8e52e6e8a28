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
# Command frame: one FC16 write of the 14 registers AUTH_BASE.. (layout: hil/auth.py AUTH, the
# README's register table): key id, sequence number (u32), command, value (s32), MAC (16 bytes).
# The MAC covers the unit id byte followed by the 12 bytes of key id, sequence, command and value
# exactly as they are on the wire. Replay rule: a sequence number is accepted only when it is
# above the last accepted one (window 0: no reordering tolerated; the TSO sends one command at a
# time). Every number up to the persisted floor counts as used; the floor is written RESERVE
# numbers ahead, so a restart never reopens a number and flash sees one write per 4096 commands.
#
# Kept small: the module is on a unit's heap for good (a board always runs with it).
import hashlib

from afrr.compat import const

AUTH_BASE = const(0x0200)  # holding address of the command block
AUTH_COUNT = const(14)  # registers, written whole by one FC16
MAC_BYTES = const(16)
UNLOCK_MAX_MS = const(600000)  # an unlock lasts at most 10 min of control-step time
RESERVE = const(4096)  # sequence numbers reserved ahead in the persisted floor
CMD_SETPOINT = const(1)  # value: TSO set-point, kW
CMD_MODE = const(2)  # value: mode 0..2
CMD_UNLOCK = const(3)  # value: ms the write lock stays open (0: lock now)
_SP_ADDR = const(0x001C)  # holding registers a command also sets (read-back): remote_sp_kw
_MODE_ADDR = const(0x0001)  # mode


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
        self.seq_hi = floor >> 16  # last accepted sequence number in 16-bit halves (a 32-bit
        self.seq_lo = floor & 0xFFFF  # value is not a small int on a 32-bit board)
        self.floor = floor
        self.reserve = reserve
        self.unlock_ms = 0  # ms the write lock stays open
        self.msg = bytearray(13)  # unit id + key id, sequence, command, value

    def check(self, unit_id, buf, p):
        """True when the command at buf[p:p + 28] is authentic and new; its number is then used.

        Refused: no key or another key id, a number not above the last accepted, a wrong MAC
        (compared in full, whatever byte differs first), or a floor that could not be saved.
        """
        if self.key is None or ((buf[p] << 8) | buf[p + 1]) != self.key_id:
            return False
        hi = (buf[p + 2] << 8) | buf[p + 3]
        lo = (buf[p + 4] << 8) | buf[p + 5]
        if hi < self.seq_hi or (hi == self.seq_hi and lo <= self.seq_lo):
            return False
        msg = self.msg
        msg[0] = unit_id
        for i in range(12):
            msg[1 + i] = buf[p + i]
        mac = hmac_sha256(self.key, msg)
        d = 0
        for i in range(MAC_BYTES):
            d |= buf[p + 12 + i] ^ mac[i]
        if d:
            return False
        seq = (hi << 16) | lo
        if seq > self.floor:
            new = min(seq + RESERVE, 0xFFFFFFFF)
            if self.reserve is not None:
                try:
                    self.reserve(new)
                except OSError:
                    return False
            self.floor = new
        self.seq_hi = hi
        self.seq_lo = lo
        return True

    def command(self, bank, buf, p):
        """Apply the command at buf[p:] to an afrr.unitregs bank; 0 or a Modbus exception code."""
        try:
            ok = self.check(bank.unit_id, buf, p)
        except MemoryError:  # the MAC needs a little heap (hashlib): refuse, do not stop
            return 4  # exception 04 (server device failure); nothing changed, number unused
        if not ok:
            bank.auth_rejects += 1
            return 1  # exception 01: refused
        cmd = (buf[p + 6] << 8) | buf[p + 7]
        v = (buf[p + 8] << 24 | buf[p + 9] << 16 | buf[p + 10] << 8 | buf[p + 11])
        if v & 0x80000000:
            v -= 0x100000000
        if cmd == CMD_SETPOINT and -0x3FFFFFFF <= v <= 0x3FFFFFFF:
            m = bank.ctl.meas
            m.remote_sp_kw = v
            m.remote_seq += 1
            bank.remote_seq += 1
            bank._hval[bank._hmap[_SP_ADDR]] = v
        elif cmd == CMD_MODE and 0 <= v <= 2:
            bank.ctl.set_mode(v)
            bank._hval[bank._hmap[_MODE_ADDR]] = v
        elif cmd == CMD_UNLOCK and 0 <= v <= UNLOCK_MAX_MS:
            self.unlock_ms = v
        else:
            return 3  # exception 03: the value is refused (the sequence number is used)
        return 0

    def tick(self, dt_ms):
        """The write lock runs down with control-step time."""
        if self.unlock_ms:
            self.unlock_ms = self.unlock_ms - dt_ms if self.unlock_ms > dt_ms else 0


def parse_key(text):
    """(key id, key bytes) from a key file's text "<key id> <key as hex>"; ValueError if bad.
    A key is 16..64 bytes (at most one SHA-256 block, so it is never hashed first)."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError("key file: want '<key id> <key as hex>'")
    h = parts[1]
    try:
        kid = int(parts[0])
        key = bytes([int(h[i:i + 2], 16) for i in range(0, len(h), 2)])
    except ValueError:
        raise ValueError("key file: key id or hex key malformed")
    if not 1 <= kid <= 65535 or len(h) & 1 or not 16 <= len(key) <= 64:
        raise ValueError("key file: key id 1..65535, key 16..64 bytes")
    return kid, key
