# Host side of the register map: encode/decode and look-ups over firmware/afrr/regmap.py's tables.
#
# The table itself stays in regmap.py (the one copy both sides import); these helpers are what
# only the host needs, so the firmware does not carry their bytecode. Pure Python that also runs
# on the MicroPython Unix port (tests/firmware use it there through tests/mp_runner.py).
from afrr import regmap


def s32_words(v):
    """(high, low) 16-bit words of a signed value."""
    return (v >> 16) & 0xFFFF, v & 0xFFFF


def words_s32(hi, lo):
    """Signed value from (high, low) words (may make a big int on a 32-bit port)."""
    v = (hi << 16) | lo
    return v - 0x100000000 if hi & 0x8000 else v


def config_fields():
    """Config block rows: (address, name, kind, unit, lo, hi, default)."""
    return [(regmap.CFG_BASE + 2 * i, f[0], regmap.S32, f[4], f[1], f[2], f[3])
            for i, f in enumerate(regmap.FIELDS)]


def holding_by_name(name):
    for row in regmap.HOLDING:
        if row[1] == name:
            return row
    raise KeyError(name)


def input_by_name(name):
    for row in regmap.INPUT:
        if row[1] == name:
            return row
    raise KeyError(name)


def encode_holding(values):
    """Registers for the lock-step write block from a dict name -> int (missing = 0)."""
    regs = [0] * regmap.LOCKSTEP_WRITE_COUNT
    for addr, name, kind, _u, lo, hi, _t, _i in regmap.HOLDING:
        if addr >= regmap.LOCKSTEP_WRITE_COUNT:
            continue
        v = values.get(name, 0)
        if v < lo or v > hi:
            raise ValueError("%s=%d outside %d..%d" % (name, v, lo, hi))
        if kind == regmap.S32:
            regs[addr], regs[addr + 1] = s32_words(v)
        else:
            regs[addr] = v
    return regs


def decode_input(regs, base=0):
    """dict name -> int from a list of input registers starting at input address `base`."""
    out = {}
    for addr, name, kind, _u, _s in regmap.INPUT:
        a = addr - base
        if a < 0 or a + regmap.field_width(kind) > len(regs):
            continue
        out[name] = words_s32(regs[a], regs[a + 1]) if kind == regmap.S32 else regs[a]
    return out
