# The register map table: no overlaps, blocks per the address plan, values inside +-2**30.
from afrr import regmap
from afrr.regmap import FIELDS

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
    for name in ("HOLD_COUNT", "INPUT_COUNT", "MIRROR_BASE", "CFG_BASE", "CFG_COUNT", "ST_STALE",
                 "ST_REALTIME", "ST_CFG_DIRTY", "VERSION", "S32", "T_MEAS", "T_TIE", "T_MODE",
                 "T_SP", "T_TIME", "T_UNIT", "T_CFG", "S_OUT", "S_ENERGY", "S_LINK"):
        assert getattr(unitregs, "_" + name) == getattr(regmap, name), name
    names = [row[1] for row in regmap.HOLDING]
    assert (unitregs._AGE_FIELD, unitregs._TOD_FIELD) == (names.index("age_ms"),
                                                          names.index("tod_ms"))
    # a tie's index in Measurements.ties_kw is its field's index less _TIE_FIELD
    ties = [(i, row[7]) for i, row in enumerate(regmap.HOLDING) if row[6] == regmap.T_TIE]
    assert len(ties) == 8 and all(k == i - unitregs._TIE_FIELD for i, k in ties)
    # the write guard takes every holding target from T_MODE on (none is T_CFG)
    assert max(row[6] for row in regmap.HOLDING) == regmap.T_UNIT < regmap.T_CFG
    # a partial input read assembles the whole table at tx[_SCRATCH:], behind any reply's room
    # (header and all input registers) and inside the 256-byte buffer
    assert 3 + 2 * regmap.INPUT_COUNT + 2 <= unitregs._SCRATCH
    assert unitregs._SCRATCH + 2 * regmap.INPUT_COUNT <= 256


def test_the_register_bank_columns_are_the_tables():
    # afrr/unitregs.py serves from columns of regmap's tables (regmap is start-only), here
    # rebuilt row by row, and under both runtimes
    from afrr import unitregs
    h, r = regmap.HOLDING, regmap.INPUT
    assert unitregs._HNAME == tuple(row[1] for row in h)
    assert [list(unitregs._HKIND), list(unitregs._HTARGET)] == [[row[2] for row in h],
                                                                [row[6] for row in h]]
    lim = []
    for row in h:
        lim += [row[4], row[5]]
    assert list(unitregs._HLIM) == lim and lim[2 * 3 + 1] == regmap.S32_MAX  # (tie_kw_1 hi)
    hmap = unitregs._HMAP
    assert len(hmap) == 2 * regmap.HOLD_COUNT
    for a in range(regmap.HOLD_COUNT):
        i = hmap[a]
        row = h[i]  # every holding address is mapped (the fields cover the block)
        assert row[0] <= a < row[0] + regmap.field_width(row[2]), (a, row)
        assert hmap[regmap.HOLD_COUNT + a] == a - row[0]
    assert unitregs._INAME == tuple(row[1] for row in r)
    assert [list(unitregs._IKIND), list(unitregs._ISOURCE)] == [[row[2] for row in r],
                                                                [row[4] for row in r]]
    # the names are the interned ones (MicroPython: qstrs, not heap copies; str() of a str
    # returns the qstr when there is one, so a heap copy would not come back as itself)
    for name in unitregs._HNAME + unitregs._INAME:
        assert str(name) is name, name


def test_the_config_columns_are_the_fields():
    from afrr import config
    assert config.NAMES == tuple(f[0] for f in FIELDS) and config.N_FIELDS == len(FIELDS)
    lim = []
    for f in FIELDS:
        lim += [f[1], f[2], f[3]]
    assert list(config._LIM) == lim
    for name in config.NAMES:
        assert str(name) is name, name
    assert config.FIELDS == FIELDS  # config.FIELDS: the rows, for the host
    assert getattr(config, "NO_SUCH_NAME", None) is None


def test_config_and_the_bank_hold_nothing_of_regmap():
    # regmap is start-only: once config and unitregs are imported and a bank is built, the app
    # drops it, and the collector can take its rows back only if nothing the firmware keeps
    # refers to the module, its tables or a row of them
    from afrr import config, unitregs
    from afrr.controller import Controller
    tables = (regmap.HOLDING, regmap.INPUT, FIELDS)
    held = [id(t) for t in tables] + [id(row) for t in tables for row in t]
    cfg = config.Config()
    bank = unitregs.UnitRegisters(Controller(cfg), cfg)
    for space in (config.__dict__, unitregs.__dict__, unitregs.UnitRegisters.__dict__,
                  config.Config.__dict__, bank.__dict__, cfg.__dict__):
        for name, v in space.items():
            assert v is not regmap, name
            assert id(v) not in held, name
            if isinstance(v, tuple):
                assert not [x for x in v if id(x) in held], name
    assert "FIELDS" not in config.__dict__  # config.FIELDS: imported on demand (host)
