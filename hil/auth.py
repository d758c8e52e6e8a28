# The rig's side of authenticated commands: key files, and signed command frames for the
# regmap.AUTH block (the layout and the MAC are defined in firmware/afrr/auth.py).
#
# The rig makes its own key for every run on the Unix port (keygen); a real unit's key comes
# from deployment (`make deploy KEY=file`) and is given to `python -m hil run --key file`.
# Key files never go into the repository.
import hmac
import os
import pathlib

from afrr import regmap
from afrr.auth import CMD_MODE, CMD_SETPOINT, CMD_UNLOCK, MAC_BYTES, parse_key

__all__ = ["CMD_MODE", "CMD_SETPOINT", "CMD_UNLOCK", "Signer", "keygen", "load_key", "sign"]


def keygen(path, key_id=1):
    """Write a new random 32-byte key to `path` (owner-only permissions); returns (id, key)."""
    key = os.urandom(32)
    p = pathlib.Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("%d %s\n" % (key_id, key.hex()))
    return key_id, key


def load_key(path):
    """(key id, key) from a key file; ValueError with a one-line reason."""
    try:
        text = pathlib.Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError("key file %s: %s" % (path, getattr(e, "strerror", None) or e))
    try:
        return parse_key(text)
    except ValueError as e:
        raise ValueError("%s: %s" % (path, e))


def sign(unit_id, key_id, key, seq, cmd, value):
    """The 14 registers of one command for the AUTH block (what one FC16 writes)."""
    body = bytearray()
    for w in (key_id, (seq >> 16) & 0xFFFF, seq & 0xFFFF, cmd, (value >> 16) & 0xFFFF,
              value & 0xFFFF):
        body += bytes([(w >> 8) & 0xFF, w & 0xFF])
    mac = hmac.new(key, bytes([unit_id]) + bytes(body), "sha256").digest()[:MAC_BYTES]
    data = bytes(body) + mac
    regs = [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]
    assert len(regs) == regmap.AUTH_COUNT
    return regs


class Signer:
    """Signs a unit's commands with increasing sequence numbers."""

    def __init__(self, key_id, key, seq=0):
        self.key_id = key_id
        self.key = key
        self.seq = seq  # last sequence number used

    def next(self, unit_id, cmd, value):
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return sign(unit_id, self.key_id, self.key, self.seq, cmd, value)

    def resync(self, unit_seq):
        """Continue above the unit's last accepted sequence number (after its restart)."""
        if unit_seq > self.seq:
            self.seq = unit_seq
