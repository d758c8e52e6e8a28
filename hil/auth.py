# The rig's side of authenticated commands: key files, signed command frames for the command
# block (AUTH below; the MAC and the replay rule are defined in firmware/afrr/auth.py), and the
# attacker of the security scenario.
#
# The rig makes its own key for every run on the Unix port (keygen); a real unit's key comes
# from deployment (`make deploy KEY=file`) and is given to `python -m hil run --key file`.
# Key files never go into the repository.
import hmac
import os
import pathlib

from afrr import regmap
from afrr.auth import (
    AUTH_BASE,
    AUTH_COUNT,
    CMD_MODE,
    CMD_SETPOINT,
    CMD_UNLOCK,
    MAC_BYTES,
    RESERVE,
    parse_key,
)
from afrr.config import FIELDS
from afrr.modbus import build_request
from hil import regcodec

__all__ = ["CMD_MODE", "CMD_SETPOINT", "CMD_UNLOCK", "Attacker", "Signer", "keygen", "load_key",
           "send", "sign"]


# The command block at afrr.auth.AUTH_BASE as the rig writes it (sign() below) and the firmware
# reads it (afrr/auth.py Auth.check; tests/test_auth_props.py ties the two); the README's
# register table is generated from this table (hil/regdoc.py).
# (address, name, registers)  # meaning
AUTH = (
    (0x0200, "key_id", 1),  # id of the unit's key (provisioned at deploy time)
    # sequence number, unsigned, high word first: must be above the last accepted (after a
    # restart of the unit: above its persisted floor, at most 4096 above the last accepted)
    (0x0201, "seq", 2),
    # 1 TSO set-point (kW, + = upward), 2 mode (0..2), 3 open the write lock for value ms
    # (1..600000; 0 closes it)
    (0x0203, "cmd", 1),
    (0x0204, "value", 2),  # s32, high word first: the command's argument
    # first 16 bytes of HMAC-SHA256(key, unit id byte + the 12 bytes of 0x0200-0x0205)
    (0x0206, "mac", 8),
)


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
    assert len(regs) == AUTH_COUNT
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


def send(unit, cmd, value):
    """Sign and send one command through a hil.client.Unit (its `signer`); True if accepted.

    A refusal (exception 01) makes the signer jump RESERVE numbers ahead and try again: a
    unit that restarted continues from its persisted floor, which is at most RESERVE above the
    last number it accepted (afrr/auth.py). Exception 04 (no heap for the MAC just then): again.
    """
    for _ in range(3):
        regs = unit.signer.next(unit.unit_id, cmd, value)
        if unit._call(unit.c.write_registers, address=AUTH_BASE, values=regs) is not None:
            unit.last_command = regs
            if cmd == CMD_SETPOINT:
                unit.last_sp = value
            return True
        if unit.last_error == "exception 01":
            unit.signer.seq += RESERVE
        elif unit.last_error != "exception 04":  # 04: the unit was short of heap: again
            return False
    return False


def _auth_frame(addr, regs):
    """The RTU request (FC16) writing a command's registers to the AUTH block."""
    return build_request(addr, 16, AUTH_BASE, len(regs), data=regs)


METRICS = ("attack_frames", "attack_accepted", "attack_no_reply", "attack_setpoint_mismatch",
           "attack_state_changed")  # summary metrics of an [attack] (None without one)
KINDS = ("forged", "replay", "reorder", "broadcast", "plain")
_ATTACK_KW = -777  # what every attack tries to set


class Attacker:
    """Another master on the bus: injects frames through the fault proxy, between the rig's
    transactions, and checks that each one was refused and changed nothing."""

    def __init__(self, unit, proxy, expected_cfg):
        self.unit = unit
        self.proxy = proxy
        self.expected_cfg = dict(expected_cfg)
        self.frames = 0  # injected
        self.accepted = 0  # injected frames the unit did not count as refused
        self.no_reply = 0  # addressed frames without an (exception) answer
        self.sp_mismatch = 0  # checks where the unit's set-point was not the authentic one
        self.state_changed = 0  # checks where config, mode or unit id had moved

    def _frames(self, kinds):
        u = self.unit
        uid = u.unit_id
        s = u.signer
        out = []
        if "forged" in kinds:  # a wrong key; then the right MAC on a value changed after signing
            out.append((_auth_frame(uid, sign(uid, s.key_id, os.urandom(32), s.seq + 1,
                                             CMD_SETPOINT, _ATTACK_KW)), True))
            regs = sign(uid, s.key_id, s.key, s.seq + 1, CMD_SETPOINT, u.last_sp)
            regs[5] ^= 0x0100
            out.append((_auth_frame(uid, regs), True))
        if "replay" in kinds and u.last_command is not None:  # the last authentic one, verbatim
            out.append((_auth_frame(uid, list(u.last_command)), True))
        if "reorder" in kinds:  # an authentic command held back and delivered after a newer one
            old = s.next(uid, CMD_SETPOINT, _ATTACK_KW)
            if not send(u, CMD_SETPOINT, u.last_sp):
                return None  # the authentic stream itself failed
            out.append((_auth_frame(uid, old), True))
        if "broadcast" in kinds:
            cfg = dict(self.expected_cfg, rating_kw=100000, band_up_kw=100000)
            regs = []
            for name, _lo, _hi, _d, _u in FIELDS:
                regs += [(cfg[name] >> 16) & 0xFFFF, cfg[name] & 0xFFFF]
            t = regcodec.holding_by_name("sim_time_ms")[0]
            out += [(build_request(0, 16, regmap.CFG_BASE, len(regs), data=regs), False),
                    (build_request(0, 6, regcodec.holding_by_name("mode")[0], 0), False),
                    (build_request(0, 16, t, 2, data=[0x3FFF, 0]), False),
                    (build_request(0, 6, regcodec.holding_by_name("unit_id")[0], 99), False),
                    (_auth_frame(0, sign(uid, s.key_id, s.key, s.seq + 1, CMD_SETPOINT,
                                        _ATTACK_KW)), False)]
        if "plain" in kinds:  # unauthenticated writes addressed to the unit
            hi, lo = regcodec.s32_words(_ATTACK_KW)
            a = regmap.CFG_BASE + 2 * [f[0] for f in FIELDS].index("rating_kw")
            out += [(build_request(uid, 16, regcodec.holding_by_name("remote_sp_kw")[0], 2,
                                   data=[hi, lo]), True),
                    (build_request(uid, 16, a, 2, data=[1, 0x86A0]), True),  # 100000 kW
                    (build_request(uid, 6, regcodec.holding_by_name("unit_id")[0], 99), True),
                    (build_request(uid, 6, regcodec.holding_by_name("mode")[0], 0), True)]
        return out

    def strike(self, kinds):
        """Inject one round of every kind, then check the unit. False if the link failed."""
        u = self.unit
        before = u.read_outputs()
        if before is None:
            return False
        frames = self._frames(kinds)
        if frames is None:
            return False
        for data, reply in frames:
            if not self.proxy.inject(data, reply):
                self.no_reply += 1
        self.frames += len(frames)
        after = u.read_outputs()
        r = u._call(u.c.read_holding_registers, address=0, count=regmap.HOLD_COUNT)
        if after is None or r is None:  # the unit no longer answers (e.g. moved off its
            self.accepted += len(frames)  # address): nothing is verified, all count as taken
            self.state_changed += 1
            return False
        self.accepted += len(frames) - (after["auth_rejects"] - before["auth_rejects"])
        held = {row[1]: (regcodec.words_s32(r.registers[row[0]], r.registers[row[0] + 1])
                         if row[2] == regmap.S32 else r.registers[row[0]])
                for row in regmap.HOLDING}
        if held["remote_sp_kw"] != u.last_sp:
            self.sp_mismatch += 1
        if (u.read_config() != self.expected_cfg or held["unit_id"] != u.unit_id
                or held["mode"] != before["mode"] or after["mode"] != before["mode"]
                or after["sim_time_ms"] != before["sim_time_ms"]):
            self.state_changed += 1
        return True

    def metrics(self):
        return dict(zip(METRICS, (self.frames, self.accepted, self.no_reply, self.sp_mismatch,
                                  self.state_changed)))


