# Controller configuration: every field with its unit, range and default, and the one validator.
#
# FIELDS is the single source: the README table, the Modbus register map (config block) and the
# validator are all generated from it. Every value is an integer, so the control step never meets
# a float. The ranges are chosen so that every intermediate of the step stays inside +-2**30
# (one small int on a 32-bit MCU); tests/test_intermediates_props.py checks that claim.
#
# The meaning of a field is the comment at the end of its row, or the comment lines directly
# above it: the README generator reads it from this file (hil/regdoc.py), and the firmware does
# not carry it (a compiled .mpy drops comments; a string here is a heap object on the board).
# The unit stays in the row: ConfigError messages name it.

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

N_FIELDS = len(FIELDS)


def field_index(name):
    """Position of a field in FIELDS, or None. A scan, not a dict: it runs only on config
    writes, and a 25-entry dict would keep about 0.5 KB of heap (64-bit port) for good."""
    for i in range(N_FIELDS):
        if FIELDS[i][0] == name:
            return i
    return None


class ConfigError(ValueError):
    """A configuration value outside its allowed range; names the field."""

    def __init__(self, field, msg):
        super().__init__("config field '%s': %s" % (field, msg))
        self.field = field


class Config:
    """All fields as integer attributes, defaults from FIELDS."""

    def __init__(self, **values):
        for name, _lo, _hi, default, _unit in FIELDS:
            setattr(self, name, default)
        for name in values:
            self.set(name, values[name], check=False)
        self.validate()

    def set(self, name, value, check=True):
        """Set one field after a range check; with check, also the cross-field rules.

        On any error the previous value is kept and ConfigError is raised.
        """
        i = field_index(name)
        if i is None:
            raise ConfigError(name, "unknown field")
        _n, lo, hi, _d, unit = FIELDS[i]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(name, "must be an integer in %d..%d %s" % (lo, hi, unit))
        if value < lo or value > hi:
            raise ConfigError(name, "%d outside %d..%d %s" % (value, lo, hi, unit))
        old = getattr(self, name)
        setattr(self, name, value)
        if check:
            try:
                self.validate()
            except ConfigError:
                setattr(self, name, old)
                raise

    def get(self, name):
        return getattr(self, name)

    def as_dict(self):
        return {f[0]: getattr(self, f[0]) for f in FIELDS}

    def validate(self):
        """Cross-field rules; each range was checked by set()."""
        for name, lo, hi, _d, unit in FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > hi:
                raise ConfigError(name, "%r outside %d..%d %s" % (v, lo, hi, unit))
        if self.soc_min_x100 >= self.soc_max_x100:
            raise ConfigError("soc_min_x100", "must be below soc_max_x100 (%d)" % self.soc_max_x100)
        if self.load_min_kw > self.base_kw or self.base_kw > self.load_max_kw:
            raise ConfigError(
                "base_kw", "must lie in load_min_kw..load_max_kw (%d..%d)"
                % (self.load_min_kw, self.load_max_kw))
        if self.band_up_kw > self.rating_kw:
            raise ConfigError("band_up_kw", "must not exceed rating_kw (%d)" % self.rating_kw)
        if self.band_down_kw > self.rating_kw:
            raise ConfigError("band_down_kw", "must not exceed rating_kw (%d)" % self.rating_kw)
        band = self.band_up_kw if self.band_up_kw > self.band_down_kw else self.band_down_kw
        # Reaching the full band within FAT needs band/FAT kW/s; the unit must manage that.
        if band > self.unit_ramp_kw_s * self.fat_s:
            raise ConfigError(
                "unit_ramp_kw_s", "%d kW/s cannot reach the %d kW band within fat_s=%d s"
                % (self.unit_ramp_kw_s, band, self.fat_s))
        return self


def load(values):
    """Build a Config from a dict (from a file or registers); raises ConfigError."""
    if not isinstance(values, dict):
        raise ConfigError("<config>", "must be a table of field = integer")
    return Config(**values)
