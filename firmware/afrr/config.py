# Controller configuration: every field an integer attribute, and the one validator.
#
# The fields (name, range, default, unit, meaning) are the table regmap.FIELDS, their single
# source (the README table and the register map's config block come from it too). The firmware
# reads it once, at import, into the compact columns below: regmap is start-only (the app drops
# it, and its rows go back to the heap), so firmware code reads NAMES and N_FIELDS. config.FIELDS
# still answers outside an optimised build, through a module __getattr__ that imports regmap
# (the host's view).
from afrr.regmap import config_columns  # (start-only: unbound below)

NAMES, _LIM = config_columns()  # _LIM[3 * i:3 * i + 3]: lo, hi, default of field i
del config_columns
N_FIELDS = len(NAMES)


if __debug__:  # config.FIELDS, the table's rows, for the host (an optimised build has none)

    def __getattr__(name):
        if name == "FIELDS":
            from afrr.regmap import FIELDS

            return FIELDS
        raise AttributeError(name)


def field_index(name):
    """Position of a field in NAMES, or None. A scan, not a dict: it runs only on config
    writes, and a 26-entry dict would keep about 0.5 KB of heap (64-bit port) for good."""
    for i in range(N_FIELDS):
        if NAMES[i] == name:
            return i
    return None


class ConfigError(ValueError):
    """A configuration value outside its allowed range; names the field."""

    def __init__(self, field, msg):
        super().__init__("config field '%s': %s" % (field, msg))
        self.field = field


def _check(i, v):
    """Raise the ConfigError of field i unless v is an integer in its range."""
    lo = _LIM[3 * i]
    hi = _LIM[3 * i + 1]
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > hi:
        raise ConfigError(NAMES[i], "must be an integer in %d..%d, not %r" % (lo, hi, v))


class Config:
    """All fields as integer attributes, defaults from regmap.FIELDS."""

    def __init__(self, **values):
        for i in range(N_FIELDS):
            setattr(self, NAMES[i], _LIM[3 * i + 2])
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
        _check(i, value)
        old = getattr(self, name)
        setattr(self, name, value)
        if check:
            try:
                self.validate()
            except ConfigError:
                setattr(self, name, old)
                raise

    def as_dict(self):
        return {name: getattr(self, name) for name in NAMES}

    def validate(self):
        """Cross-field rules; each range was checked by set()."""
        for i in range(N_FIELDS):
            _check(i, getattr(self, NAMES[i]))
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
