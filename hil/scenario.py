# HIL scenario files (TOML): what to run, the link faults, and the pass criteria, validated once.
import pathlib
import tomllib

from afrr.config import ConfigError, field_index
from afrr.config import load as load_config
from hil.auth import KINDS as ATTACK_KINDS
from hil.auth import METRICS as ATTACK_METRICS

ROOT = pathlib.Path(__file__).resolve().parent.parent


class ScenarioError(Exception):
    """A bad scenario file: one line naming the file, the table and the key."""


# table -> key -> (type, default, lo, hi); None lo/hi = unchecked
SCHEMA = {
    "scenario": {
        "name": (str, "", None, None),
        "description": (str, "", None, None),
        "duration_s": (int, 900, 4, 7 * 86400),
        "mode": (str, "local", None, None),
        "seed": (int, 1, 0, 2**31),
        "realtime": (bool, False, None, None),  # run in real time unless --no-realtime
    },
    "grid": {
        "world": (str, "host/worlds/baltic.toml", None, None),
        "scenario": (str, "quiet", None, None),
        "area": (str, "LT", None, None),
        "step_ms": (int, 100, 1, 4000),
        "start_tod_s": (int, 0, 0, 86399),
    },
    "market": {
        "file": (str, "", None, None),
        "scenario": (str, "nordbalt_trip", None, None),
    },
    "plant": {
        "soc": (float, 0.5, 0.0, 1.0),
        "delay_s": (float, 1.0, 0.0, 60.0),
        "ramp_kw_s": (float, 1000.0, 0.001, 1e9),
        "aux_kw": (float, 0.0, 0.0, 1e6),
    },
    "remote": {
        "period_s": (int, 4, 1, 3600),
        "loss": (list, [], None, None),
        "setpoints": (list, [], None, None),
    },
    "link": {
        "drop_rate": (float, 0.0, 0.0, 0.5),
        "flip_rate": (float, 0.0, 0.0, 0.5),
        "latency_ms": (float, 0.0, 0.0, 5000.0),
        "jitter_ms": (float, 0.0, 0.0, 5000.0),
        "timeout_ms": (int, 1000, 10, 10000),  # lock-step: only a lost frame waits it out
        "retries": (int, 2, 0, 10),
        "cuts": (list, [], None, None),
        "restarts": (list, [], None, None),
        "seed": (int, 7, 0, 2**31),
        "baud": (int, 115200, 1200, 4000000),
        "line_baud": (int, 0, 0, 4000000),
        # the rig makes a key, the unit runs locked and every command is signed (hil/auth.py)
        "auth": (bool, False, None, None),
    },
    # another master injecting frames through the fault proxy (hil/auth.py KINDS)
    "attack": {
        "kinds": (list, [], None, None),
        "start_s": (int, 0, 0, 7 * 86400),
        "period_s": (int, 60, 4, 7 * 86400),
    },
}
MODES = {"off": 0, "local": 1, "remote": 2}

# Summary metrics a [criteria] entry may bound (hil/runner.summarize computes every one).
METRICS = (
    "sim_seconds", "steps", "steps_ok", "steps_failed", "retries", "late_replies", "wall_s",
    "steps_per_s",
    "setpoint_violations", "p_set_max_kw", "p_set_min_kw", "limit_up_kw", "limit_down_kw",
    "soc_min_pct", "soc_max_pct", "soc_violations", "energy_up_kwh", "energy_down_kwh",
    "f_min_mhz", "f_max_mhz", "area_ace_max_abs_kw", "failsafe_steps", "failsafe_engage_max_s",
    "failsafe_never_engaged", "failsafe_clear_max_s", "failsafe_never_cleared", "fw_steps",
    "fw_frames_ok", "fw_crc_errors", "fw_exceptions", "fw_bytes_dropped",
    "injected_req_frames_corrupted", "injected_req_frames_lost",
    "injected_resp_frames_corrupted", "injected_resp_frames_lost", "injected_bits_flipped",
    "injected_bytes_dropped", "crc_counter_mismatch", "bytes_counter_mismatch", "restarts",
    "isp_energy_checked", "isp_energy_mismatch_wh", "acceptance_passed",
    "acceptance_charged_s", "acceptance_flagged_s", "acceptance_isps", "acceptance_isps_failed",
    "acceptance_under_kwh_pos", "acceptance_under_kwh_neg", "prequal_steps",
    "prequal_late_reactions", "prequal_not_reached",
    "revenue_eur", "market_energy_up_kwh", "market_energy_down_kwh",
    "soc_guard_share", "acceptance_isp_share", "cycles_per_day",
    *ATTACK_METRICS,
)


class Scenario:
    def __init__(self, path, data):
        self.path = pathlib.Path(path)
        self.data = data
        for table, keys in SCHEMA.items():
            setattr(self, table, {k: v[1] for k, v in keys.items()})
        self.unit = {}
        self.criteria = {}
        self.world = None  # a host.grid World that replaces the world file (sweeps), or None

    def __getitem__(self, table):
        return getattr(self, table)


def _fail(path, table, key, msg):
    where = "[%s]" % table + ("%s" % (" " + key if key else ""))
    raise ScenarioError("%s: %s: %s" % (path, where, msg))


def _check(path, table, key, value, spec):
    typ, _d, lo, hi = spec
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        _fail(path, table, key, "must be %s, not %r" % (typ.__name__, value))
    if lo is not None and not (lo <= value <= hi):
        _fail(path, table, key, "%r outside %s..%s" % (value, lo, hi))
    return value


def _windows(path, table, key, items):
    out = []
    for it in items:
        if (not isinstance(it, dict) or set(it) - {"t_s", "duration_s"}
                or not all(isinstance(it.get(k), (int, float)) and it.get(k) >= 0
                           for k in ("t_s", "duration_s"))):
            _fail(path, table, key, "each entry must be { t_s = N, duration_s = N } (>= 0)")
        out.append((float(it["t_s"]), float(it["t_s"]) + float(it["duration_s"])))
    return out


def load(path):
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ScenarioError("%s: cannot read (%s)" % (path, e.strerror or e))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("%s: not valid TOML: %s" % (path, e))
    return from_data(path, data)


def from_data(path, data):
    """A scenario from the parsed TOML of `path` (a sweep applies its parameters to it)."""
    path = pathlib.Path(path)
    sc = Scenario(path, data)
    known = set(SCHEMA) | {"unit", "criteria"}
    for table in data:
        if table not in known:
            _fail(path, table, None, "unknown table (known: %s)" % ", ".join(sorted(known)))
        if not isinstance(data[table], dict):
            _fail(path, table, None, "must be a table")
    for table, keys in SCHEMA.items():
        got = data.get(table, {})
        for key, value in got.items():
            if key not in keys:
                _fail(path, table, key, "unknown key (known: %s)" % ", ".join(keys))
            sc[table][key] = _check(path, table, key, value, keys[key])
    if sc.scenario["mode"] not in MODES:
        _fail(path, "scenario", "mode", "must be one of %s" % ", ".join(MODES))
    for kind in sc.attack["kinds"]:
        if kind not in ATTACK_KINDS:
            _fail(path, "attack", "kinds", "%r: known kinds %s" % (kind, ", ".join(ATTACK_KINDS)))
    sc.remote["loss"] = _windows(path, "remote", "loss", sc.remote["loss"])
    sc.link["cuts"] = _windows(path, "link", "cuts", sc.link["cuts"])
    for t in sc.link["restarts"]:
        if not isinstance(t, (int, float)) or t < 0:
            _fail(path, "link", "restarts", "must be a list of times in s (>= 0)")
    for it in sc.remote["setpoints"]:
        if not isinstance(it, dict) or set(it) != {"t_s", "sp_kw"}:
            _fail(path, "remote", "setpoints", "each entry must be { t_s = N, sp_kw = N }")
    # in time order, once: the runner looks the set-point in force up every cycle
    sc.remote["setpoints"] = sorted(sc.remote["setpoints"], key=lambda p: p["t_s"])
    unit = data.get("unit", {})
    for key, value in unit.items():
        if field_index(key) is None:
            _fail(path, "unit", key, "unknown config field (see FIELDS in firmware/afrr/regmap.py)")
    sc.unit = dict(unit)
    for name, crit in data.get("criteria", {}).items():
        if name not in METRICS:
            _fail(path, "criteria", name, "unknown metric (see hil/README.md)")
        if (not isinstance(crit, dict) or not crit or set(crit) - {"min", "max"}
                or not all(isinstance(v, (int, float)) for v in crit.values())):
            _fail(path, "criteria", name, "must be { min = N } and/or { max = N }")
    sc.criteria = dict(data.get("criteria", {}))
    sc.market_path = None
    if sc.market["file"]:
        mp = pathlib.Path(sc.market["file"])
        sc.market_path = mp if mp.is_absolute() else ROOT / mp
        if not sc.market_path.exists():
            _fail(path, "market", "file", "no such file %s" % sc.market["file"])
        if sc.scenario["mode"] != "remote":
            _fail(path, "scenario", "mode", "a [market] run needs mode = \"remote\"")
    wp = pathlib.Path(sc.grid["world"])
    sc.world_path = wp if wp.is_absolute() else ROOT / wp
    if not sc.world_path.exists():
        _fail(path, "grid", "world", "no such file %s" % sc.grid["world"])
    return sc


def start_utc_s(sc):
    """UTC epoch second of the run's t = 0: the acceptance model's default date plus the
    scenario's start time of day (the acceptance check and the report's time axes use it)."""
    from host.metrics.utc import DEFAULT_START_UTC_S
    return DEFAULT_START_UTC_S - DEFAULT_START_UTC_S % 86400 + sc.grid["start_tod_s"]


def unit_config(sc, defaults):
    """Full firmware config: FIELDS defaults, then rig-derived defaults, then [unit]."""
    values = dict(defaults)
    values.update(sc.unit)
    try:
        cfg = load_config(values)
    except ConfigError as e:
        raise ScenarioError("%s: [unit]: %s" % (sc.path, e))
    return cfg.as_dict()
