# THE Modbus register map of the unit: pure tables that the firmware and the host rig import.
#
# On the firmware this module is start-only: afrr/unitregs.py and afrr/config.py read it once, at
# import, into compact columns (bytes, arrays, tuples of interned names), and the app then drops
# it from sys.modules so that the collector takes its rows back (on a .mpy every string in a row
# is a heap object: loaded, this module takes 8 to 12 KB of the 64-bit port's heap, the columns
# under 2 KB). So no firmware code may refer to it after start: read afrr.config.NAMES, not FIELDS.
#
# Word order: a 32-bit value (kind S32) occupies two registers, the HIGH word first (big-endian
# words, big-endian bytes: the Modbus "ABCD" order). Every S32 value is kept inside
# -(2**30 - 1)..2**30 - 1 so it stays a small int on a 32-bit board.
#
# Address plan (docs/DESIGN.md):
#   holding 0x0000-0x007F  measurements, commands, simulated time (FC03/06/16/23, read/write)
#   holding 0x0080-0x00FF  read-only mirror of the input registers, so one FC23 transaction
#                          can write the measurements and read the outputs of the step it caused
#   holding 0x0100-0x01FF  configuration: FIELDS in order, one S32 (2 registers) each
#   holding 0x0200-0x020D  authenticated TSO command (afrr/auth.py), write-only, one FC16 of
#                          the whole block; 0x020E-0x02FF reserved -> exception 02
#   holding 0x0300-0x03FF  RESERVED: bids / market parameters     -> exception 02
#   input   0x0000-0x007F  outputs, flags, counters, energy (FC04)
#
# Writes must cover whole fields: a write that starts or ends inside an S32 field, or touches an
# unmapped or read-only register, is refused with exception 02 and changes nothing. A value
# outside its range gives exception 03 and changes nothing (the whole request is refused).
#
# The meaning of each row is the comment at its end, or the comment lines directly above it: the
# firmware carries no doc strings (a compiled .mpy drops comments; every string here would be a
# heap object on the board), and the README generator reads them back from this file
# (hil/regdoc.py). Host-side helpers (encode/decode, look-up by name) are in hil/regcodec.py.
from array import array

from afrr.compat import const

U16 = 0  # one register, 0..65535
S32 = 1  # two registers, high word first, two's complement

S32_MAX = 0x3FFFFFFF  # 2**30 - 1: small-int range on a 32-bit MCU

# Write targets of the holding registers (how the firmware applies a written value).
T_MEAS = 0  # plain attribute of the controller's Measurements object (same name)
T_TIE = 1  # Measurements.ties_kw[index]
T_MODE = 2  # Controller.set_mode(value)
T_SP = 3  # TSO set-point: Measurements.remote_sp_kw, and remote_seq += 1
T_TIME = 4  # simulated time: in lock-step a new value runs one control step
T_UNIT = 5  # Modbus unit address of this server (takes effect after the reply)
T_CFG = 6  # configuration field (Config.set); index into config.FIELDS

# Write protection (afrr/auth.py; README "Security"): exception 01 and auth_rejects += 1 for
#   - a command in the AUTH block with an unknown key id, a wrong MAC or a used sequence number;
#   - while the write lock is closed (a keyed unit, no authenticated unlock in force): a write of
#     the config block or unit_id, or one that changes mode; with a key, a write of remote_sp_kw
#     (set-points come through the AUTH block only);
#   - a broadcast that would change the config, unit_id, mode or sim_time_ms;
#   - a sim_time_ms write on a unit that runs on its own clock (not lock-step).

# Holding registers 0x0000-0x007F, read/write:
# (address, name, kind, unit, lo, hi, target, index)  # meaning
HOLDING = (
    # measured frequency, absolute (50 000 = nominal); valid 47 500..52 500, else fault flag
    (0x0000, "f_mhz", U16, "mHz", 0, 65535, T_MEAS, 0),
    # 0 off, 1 local FRCE control, 2 remote TSO set-point
    (0x0001, "mode", U16, "-", 0, 2, T_MODE, 0),
    (0x0002, "tie_kw_0", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 0),  # tie-line flow 1, export +
    (0x0004, "tie_kw_1", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 1),  # tie-line flow 2, export +
    (0x0006, "tie_kw_2", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 2),  # tie-line flow 3, export +
    (0x0008, "tie_kw_3", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 3),  # tie-line flow 4, export +
    (0x000A, "tie_kw_4", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 4),  # tie-line flow 5, export +
    (0x000C, "tie_kw_5", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 5),  # tie-line flow 6, export +
    (0x000E, "tie_kw_6", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 6),  # tie-line flow 7, export +
    (0x0010, "tie_kw_7", S32, "kW", -S32_MAX, S32_MAX, T_TIE, 7),  # tie-line flow 8, export +
    # scheduled net export of the area
    (0x0012, "sched_kw", S32, "kW", -S32_MAX, S32_MAX, T_MEAS, 0),
    (0x0014, "soc_x100", U16, "0.01 %", 0, 10000, T_MEAS, 0),  # battery state of charge
    # age of the measurements when written (real time adds the time since the write)
    (0x0015, "age_ms", U16, "ms", 0, 65535, T_MEAS, 0),
    # measured unit power, + = discharge / load reduction (upward)
    (0x0016, "p_meas_kw", S32, "kW", -S32_MAX, S32_MAX, T_MEAS, 0),
    (0x0018, "tod_ms", S32, "ms", 0, 86399999, T_MEAS, 0),  # time of day, UTC
    # simulated time; lock-step: a new value runs one control step with dt = new - old
    (0x001A, "sim_time_ms", S32, "ms", 0, S32_MAX, T_TIME, 0),
    # TSO aFRR set-point, + = upward; every write counts as a fresh set-point
    (0x001C, "remote_sp_kw", S32, "kW", -S32_MAX, S32_MAX, T_SP, 0),
    # Modbus unit address (applies after the reply)
    (0x001E, "unit_id", U16, "-", 1, 247, T_UNIT, 0),
)

# The block one lock-step FC23 writes: f_mhz .. sim_time_ms (the TSO set-point is written
# separately, only when the TSO sends one, so that a lost set-point is really lost).
LOCKSTEP_WRITE_ADDR = 0x0000
LOCKSTEP_WRITE_COUNT = 0x001C

# Sources of the input registers.
S_OUT = 0  # Controller.out (Outputs)
S_ENERGY = 1  # Controller.energy
S_LINK = 2  # Modbus link counters (modbus.RTU)
S_UNIT = 3  # firmware state kept by the register bank (steps, sim time, status)

_ST_STALE = const(0x0001)  # status bit: real time, no measurement write within max_age_ms
_ST_REALTIME = const(0x0002)  # status bit: running on its own clock (not lock-step)
_ST_CFG_DIRTY = const(0x0004)  # status bit: configuration changed since start
_ST_STATE_FAULT = const(0x0008)  # status bit: persisted state corrupt, fell back, or refused at
# start; or no sequence number can pass (corrupt or used-up floor, hal/keystore.py)
# status bit 0x0010: a key is provisioned (afrr/unitregs.py; set-points only as commands)

# Input registers 0x0000-0x007F (FC04), also at holding 0x0080 + address (FC03/FC23), read-only:
# (address, name, kind, unit, source)  # meaning
INPUT = (
    (0x0000, "p_set_kw", S32, "kW", S_OUT),  # unit set-point in force, + = upward (discharge)
    (0x0002, "ace_kw", S32, "kW", S_OUT),  # area control error, + = surplus
    (0x0004, "frce_kw", S32, "kW", S_OUT),  # FRCE after deadband and filter
    (0x0006, "p_pi_kw", S32, "kW", S_OUT),  # PI controller output before limits
    (0x0008, "lim_up_kw", S32, "kW", S_OUT),  # upward limit in force
    (0x000A, "lim_down_kw", S32, "kW", S_OUT),  # downward limit in force
    (0x000C, "integ_kw", S32, "kW", S_OUT),  # integrator state
    (0x000E, "flags", U16, "bits", S_OUT),  # fault and limit flags (controller F_* bits)
    (0x000F, "mode", U16, "-", S_OUT),  # mode in force: 0 off, 1 local, 2 remote
    (0x0010, "fault_cycles", U16, "cycles", S_OUT),  # consecutive faulty cycles
    # 1 stale, 2 real time, 4 config changed, 8 state fault, 16 keyed
    (0x0011, "status", U16, "bits", S_UNIT),
    (0x0012, "sim_time_ms", S32, "ms", S_UNIT),  # simulated time of the last step
    (0x0014, "steps", S32, "-", S_UNIT),  # control steps run
    (0x0016, "remote_seq", S32, "-", S_UNIT),  # TSO set-point writes received
    (0x0018, "frames_ok", S32, "-", S_LINK),  # valid frames for this unit (and broadcasts)
    (0x001A, "crc_errors", S32, "-", S_LINK),  # frames discarded at a silence: bad CRC or too short
    (0x001C, "bytes_dropped", S32, "-", S_LINK),  # bytes discarded (bad frames, overruns)
    (0x001E, "exceptions", S32, "-", S_LINK),  # exception responses sent
    (0x0020, "frames_other", S32, "-", S_LINK),  # valid frames for another unit address
    (0x0022, "broadcasts", S32, "-", S_LINK),  # valid broadcast frames (address 0)
    (0x0024, "isp", S32, "-", S_ENERGY),  # imbalance settlement period index (15 min)
    (0x0026, "up_kws", S32, "kWs", S_ENERGY),  # upward energy in the running ISP
    (0x0028, "down_kws", S32, "kWs", S_ENERGY),  # downward energy in the running ISP
    (0x002A, "prev_up_wh", S32, "Wh", S_ENERGY),  # upward energy of the previous ISP
    (0x002C, "prev_down_wh", S32, "Wh", S_ENERGY),  # downward energy of the previous ISP
    (0x002E, "fw_version", U16, "-", S_UNIT),  # register map version (major*256 + minor)
    # refused writes: rejected authenticated commands, write lock, broadcasts, time (exception 01)
    (0x002F, "auth_rejects", S32, "-", S_UNIT),
    # battery baseline in force for the running ISP, + = discharge; p_set = baseline + aFRR
    (0x0031, "base_kw", S32, "kW", S_OUT),
    (0x0033, "base_next_kw", S32, "kW", S_OUT),  # baseline declared for the next ISP
)
_INPUT_COUNT = const(0x0035)  # registers 0x0000..0x0034
_MIRROR_BASE = const(0x0080)  # holding address of input register 0

# Configuration, holding 0x0100-0x01FF: the fields of afrr.config.Config, one S32 (2 registers)
# each at CFG_BASE + 2 * i. FIELDS is their single source: the README table, this config block and
# the validator (afrr/config.py keeps compact columns of it) come from it. Every value is an
# integer, so the control step never meets a float. The ranges are chosen so that every
# intermediate of the step stays inside +-2**30 (one small int on a 32-bit MCU);
# tests/test_controller_props.py checks that claim. Every field's name says its unit too
# (ConfigError messages name the field and its range, not the unit column).
_CFG_BASE = const(0x0100)
# (name, min, max, default, unit)  # meaning
FIELDS = (
    ("cycle_ms", 1000, 4000, 4000, "ms"),  # control cycle; PICASSO optimisation cycle is 4 s
    # 0: area ACE = (sum ties - schedule) + K*df; 1: synchronous area, ACE = K*df
    ("frce_mode", 0, 1, 0, "-"),
    ("k_mw_hz", 1, 50000, 500, "MW/Hz"),  # frequency bias K (1 MW/Hz = 1 kW/mHz)
    ("n_ties", 0, 8, 1, "-"),  # number of tie-line flow inputs summed into dP
    ("deadband_kw", 0, 100000, 0, "kW"),  # |FRCE| below this is treated as 0
    ("lpf_tau_ms", 0, 60000, 0, "ms"),  # first-order low-pass time constant on ACE; 0 = off
    # proportional factor beta (32768 = 1.0); default 0.1, assumed
    ("kp_q15", 0, 32767, 3277, "Q15"),
    # integration time Tr; 0 = no integral action; default assumed (UCTE range 50-200 s)
    ("ti_s", 0, 250, 100, "s"),
    # contracted upward aFRR band (discharge / load reduction)
    ("band_up_kw", 0, 100000, 1000, "kW"),
    # contracted downward aFRR band (charge / load increase)
    ("band_down_kw", 0, 100000, 1000, "kW"),
    ("rating_kw", 1, 100000, 1000, "kW"),  # unit power rating, both directions
    # full activation time: the full band is reached no slower than this
    ("fat_s", 30, 900, 300, "s"),
    # the unit's own fastest ramp; the set-point never moves faster
    ("unit_ramp_kw_s", 1, 100000, 100000, "kW/s"),
    ("unit_type", 0, 1, 0, "-"),  # 0: battery (SoC guard); 1: flexible load (baseline guard)
    ("cap_kwh", 1, 100000, 2000, "kWh"),  # battery usable energy capacity
    ("soc_min_x100", 0, 10000, 1000, "0.01 %"),  # lowest allowed state of charge
    ("soc_max_x100", 0, 10000, 9000, "0.01 %"),  # highest allowed state of charge
    ("eta_ch_pm", 500, 1000, 950, "permille"),  # charge efficiency (grid -> stored)
    ("eta_dis_pm", 500, 1000, 950, "permille"),  # discharge efficiency (stored -> grid)
    ("base_kw", 0, 100000, 1000, "kW"),  # flexible load: baseline consumption
    ("load_min_kw", 0, 100000, 0, "kW"),  # flexible load: lowest consumption
    ("load_max_kw", 0, 100000, 2000, "kW"),  # flexible load: highest consumption
    ("max_age_ms", 0, 60000, 8000, "ms"),  # a measurement older than this is stale (fault path)
    # on a fault or set-point loss: cycles the last set-point is held before ramping to 0
    ("hold_cycles", 0, 100, 3, "cycles"),
    # remote mode: a set-point not refreshed within this many cycles is lost
    ("remote_timeout_cycles", 1, 100, 2, "cycles"),
    # participation factor (local mode): the unit's share of its area's aFRR demand = its band
    # / the area's contracted aFRR band; the PI runs on share * FRCE (1 000 000 = whole area)
    ("share_ppm", 1, 1000000, 1000000, "ppm"),
)
# Holding 0x0200-0x020D: one authenticated TSO command (afrr/auth.py AUTH_BASE, AUTH_COUNT,
# loaded on a unit only with a key; the layout table is hil/auth.py AUTH). Unmapped holding
# space answers exception 02; the reserved ranges are listed in hil/regdoc.py RESERVED (the
# firmware needs no table for what it does not serve).

_VERSION = const(0x0102)  # 1.2: authenticated commands (afrr/auth.py), battery baseline registers

_HOLD_COUNT = const(0x001F)  # holding registers 0x0000..0x001E are mapped


if __debug__:  # what only the host and the tests read: an optimised build (mpy-cross -O3) leaves
    # these names out, so a board keeps no qstr for them
    ST_STALE = _ST_STALE
    ST_REALTIME = _ST_REALTIME
    ST_CFG_DIRTY = _ST_CFG_DIRTY
    ST_STATE_FAULT = _ST_STATE_FAULT
    INPUT_COUNT = _INPUT_COUNT
    MIRROR_BASE = _MIRROR_BASE
    CFG_BASE = _CFG_BASE
    VERSION = _VERSION
    HOLD_COUNT = _HOLD_COUNT
    CFG_COUNT = 2 * len(FIELDS)


def field_width(kind):
    return 2 if kind == S32 else 1


# The compact columns of these tables that the firmware keeps instead of the rows: built once, at
# import, by afrr/config.py and afrr/unitregs.py; start-only, like the tables. A column entry is
# a byte, an array word or a reference to an interned name, a row a tuple (on a .mpy with heap
# copies of its long strings).
def _names(rows, k):
    """Item k of every row, as a tuple of interned names. On MicroPython a string in a constant
    tuple of a .mpy (FIELDS, the long names of HOLDING and INPUT) loads as a heap copy (two GC
    blocks) unless its qstr exists: getattr() interns the name it is given (an attribute access
    by that name needs the qstr anyway), and str() of a str returns the qstr when there is one."""
    out = []
    for row in rows:
        getattr(_names, row[k], None)
        out.append(str(row[k]))
    return tuple(out)


def _column(rows, k):
    return bytes([row[k] for row in rows])


def config_columns():
    """afrr.config's NAMES (interned) and array("i") of (lo, hi, default) per field."""
    lim = []
    for row in FIELDS:
        lim += row[1:4]
    return _names(FIELDS, 0), array("i", lim)


def bank_columns():
    """afrr.unitregs's columns: per holding field its name, kind, write target and [2i] lo,
    [2i + 1] hi (array("i")); per holding address a, [a] its field and [HOLD_COUNT + a] its
    word in it (0 high or only; the fields cover the block); per input field its name, kind and
    source."""
    hmap = bytearray(2 * _HOLD_COUNT)
    lim = []
    for i, row in enumerate(HOLDING):
        for w in range(field_width(row[2])):
            hmap[row[0] + w] = i
            hmap[_HOLD_COUNT + row[0] + w] = w
        lim += row[4:6]
    return (_names(HOLDING, 1), _column(HOLDING, 2), _column(HOLDING, 6), array("i", lim), hmap,
            _names(INPUT, 1), _column(INPUT, 2), _column(INPUT, 4))
