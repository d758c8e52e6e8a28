# The register map table: no overlaps, blocks per the address plan, values inside +-2**30.
from afrr import regmap
from afrr.config import FIELDS

try:
    from hil import regcodec  # CPython (pytest)
except ImportError:  # the Unix port: hil/__init__ needs CPython; tests/mp_runner.py adds hil/
    import regcodec


def test_holding_fields_contiguous_and_in_block():
    a = 0
    for row in regmap.HOLDING:
        assert row[0] == a, row
        assert row[4] <= row[5]
        if row[2] == regmap.S32:
            assert -regmap.S32_MAX <= row[4] and row[5] <= regmap.S32_MAX
        else:
            assert 0 <= row[4] and row[5] <= 0xFFFF
        a += regmap.field_width(row[2])
    assert a == regmap.HOLD_COUNT <= regmap.MIRROR_BASE


def test_input_fields_contiguous():
    a = 0
    for row in regmap.INPUT:
        assert row[0] == a, row
        a += regmap.field_width(row[2])
    assert a == regmap.INPUT_COUNT <= 0x80


def test_config_block_follows_fields():
    rows = regcodec.config_fields()
    assert len(rows) == len(FIELDS)
    for i, row in enumerate(rows):
        assert row[0] == 0x0100 + 2 * i and row[1] == FIELDS[i][0]
    assert regmap.CFG_BASE + regmap.CFG_COUNT <= 0x0200


def test_lockstep_block_ends_with_time():
    last = regmap.HOLDING[[r[1] for r in regmap.HOLDING].index("sim_time_ms")]
    assert last[0] + 2 == regmap.LOCKSTEP_WRITE_COUNT


def test_s32_words_roundtrip():
    for v in (0, 1, -1, 123456789, -123456789, regmap.S32_MAX, -regmap.S32_MAX):
        hi, lo = regcodec.s32_words(v)
        assert regcodec.words_s32(hi, lo) == v



def test_the_register_bank_constants_are_the_maps():
    # afrr/unitregs.py keeps regmap's kinds, write targets and sources as const() (no module
    # attribute look-ups per transaction); on MicroPython a private const leaves no attribute
    import sys
    if sys.implementation.name == "micropython":
        return
    from afrr import unitregs
    for name in ("HOLD_COUNT", "INPUT_COUNT", "MIRROR_BASE", "ST_STALE", "S32", "T_MEAS",
                 "T_TIE", "T_MODE", "T_SP", "T_TIME", "T_UNIT", "S_OUT", "S_ENERGY", "S_LINK"):
        assert getattr(unitregs, "_" + name) == getattr(regmap, name), name
    assert unitregs._HOLDING is regmap.HOLDING and unitregs._INPUT is regmap.INPUT
    names = [row[1] for row in regmap.HOLDING]
    assert (unitregs._AGE_FIELD, unitregs._TOD_FIELD) == (names.index("age_ms"),
                                                          names.index("tod_ms"))
    # the write guard takes every holding target from T_MODE on (none is T_CFG)
    assert max(row[6] for row in regmap.HOLDING) == regmap.T_UNIT < regmap.T_CFG
    # a partial input read assembles the whole table at tx[_SCRATCH:], behind any reply's room
    # (header and all input registers) and inside the 256-byte buffer
    assert 3 + 2 * regmap.INPUT_COUNT + 2 <= unitregs._SCRATCH
    assert unitregs._SCRATCH + 2 * regmap.INPUT_COUNT <= 256
