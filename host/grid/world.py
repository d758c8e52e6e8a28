# World files: load a TOML world (areas, ties, HVDC links, scenarios), validate once, name lines.
import math
import pathlib
import re
import tomllib
from dataclasses import dataclass, field


class WorldError(ValueError):
    """A bad world file: message is 'file:line: field: what is wrong'."""

    def __init__(self, path, line, fld, msg):
        loc = "%s:%s" % (path, line if line else "?")
        super().__init__("%s: %s: %s" % (loc, fld, msg))
        self.path, self.line, self.field = str(path), line, fld


# field -> (kind, min, max, default); default None = required. kind: float, str, bool, int.
_INF = math.inf
WORLD_FIELDS = {
    "name": ("str", None, None, None),
    "f0_hz": ("float", 1.0, 1000.0, 50.0),
    "lfc_cycle_s": ("float", 0.1, 60.0, 4.0),
    "slack": ("str", None, None, ""),
    "isp_s": ("float", 60.0, 3600.0, 900.0),
    "description": ("str", None, None, ""),
}
AREA_FIELDS = {
    "base_mw": ("float", 1e-3, 1e7, None),            # MW, inertia base
    "inertia_h_s": ("float", 1e-3, 100.0, None),      # s
    "d_mw_per_hz": ("float", 0.0, 1e7, None),         # MW/Hz load self-regulation
    "fcr_gain_mw_per_hz": ("float", 0.0, 1e8, None),  # MW/Hz droop gain 1/R
    "fcr_max_mw": ("float", 0.0, _INF, _INF),         # MW saturation (full activation)
    "fcr_deadband_mhz": ("float", 0.0, 500.0, 0.0),   # mHz
    "tg_s": ("float", 1e-3, 100.0, None),             # s governor lag
    "tt_s": ("float", 1e-3, 100.0, None),             # s turbine / FCR provider lag
    "k_mw_per_hz": ("float", 0.0, 1e8, -1.0),         # MW/Hz bias; default D + FCR gain
    "afrr_up_mw": ("float", 0.0, 1e6, 0.0),
    "afrr_down_mw": ("float", 0.0, 1e6, 0.0),
    "afrr_fat_s": ("float", 1.0, 3600.0, 300.0),
    "lfc_beta": ("float", 0.0, 5.0, 0.0),
    "lfc_tr_s": ("float", 1.0, 1e5, 100.0),
    "sched_export_mw": ("float", -1e6, 1e6, 0.0),
    "noise_std_mw": ("float", 0.0, 1e6, 0.0),
    "noise_tau_s": ("float", 0.1, 1e5, 60.0),
    "hourly_step_mw": ("float", 0.0, 1e6, 0.0),
    "frce_l1_mw": ("float", 0.0, 1e6, _INF),
    "frce_l2_mw": ("float", 0.0, 1e6, _INF),
    "description": ("str", None, None, ""),
}
TIE_FIELDS = {
    "a": ("str", None, None, None),
    "b": ("str", None, None, None),
    "sync_mw": ("float", 1e-6, 1e9, None),           # MW/rad: dP/dt = 2*pi*sync_mw*(dfa-dfb)
    "damp_mw_per_hz": ("float", 0.0, 1e9, 0.0),      # MW/Hz flow term d*(dfa-dfb), damping
    "cap_ab_mw": ("float", 0.0, _INF, _INF),         # free capacity a->b for balancing
    "cap_ba_mw": ("float", 0.0, _INF, _INF),
    "name": ("str", None, None, ""),
}
HVDC_FIELDS = {
    "name": ("str", None, None, None),
    "area": ("str", None, None, None),
    "import_mw": ("float", -1e5, 1e5, None),          # scheduled injection into the area
    "rating_mw": ("float", 0.0, 1e5, _INF),
    "description": ("str", None, None, ""),
}
SCENARIO_FIELDS = {
    "description": ("str", None, None, ""),
    "noise": ("bool", None, None, False),
    "hourly": ("bool", None, None, False),
    "lfc": ("bool", None, None, True),
    "fcr": ("bool", None, None, True),
    "trace": ("str", None, None, ""),
    "trace_until": ("str", None, None, ""),
    # imposed Ornstein-Uhlenbeck frequency (host/grid/scenario.ou_frequency); 0 = off
    "ou_std_mhz": ("float", 0.0, 500.0, 0.0),
    "ou_tau_s": ("float", 1.0, 86400.0, 300.0),
    "ou_day_mean_mhz": ("float", 0.0, 100.0, 0.0),
    "hours": ("float", 0.0, 1e4, 1.0),
    "events": ("list", None, None, []),
}
EVENT_KINDS = {"load_step", "hvdc_trip", "hvdc_restore"}
EVENT_FIELDS = {
    "t_s": ("float", 0.0, 1e9, None),
    "kind": ("str", None, None, None),
    "area": ("str", None, None, ""),
    "mw": ("float", -1e6, 1e6, 0.0),   # load_step: + = more load (deficit)
    "link": ("str", None, None, ""),
}


@dataclass
class Area:
    name: str
    base_mw: float
    inertia_h_s: float
    d_mw_per_hz: float
    fcr_gain_mw_per_hz: float
    fcr_max_mw: float
    fcr_deadband_mhz: float
    tg_s: float
    tt_s: float
    k_mw_per_hz: float
    afrr_up_mw: float
    afrr_down_mw: float
    afrr_fat_s: float
    lfc_beta: float
    lfc_tr_s: float
    sched_export_mw: float
    noise_std_mw: float
    noise_tau_s: float
    hourly_step_mw: float
    frce_l1_mw: float
    frce_l2_mw: float
    description: str = ""


@dataclass
class Tie:
    a: str
    b: str
    sync_mw: float
    damp_mw_per_hz: float
    cap_ab_mw: float
    cap_ba_mw: float
    name: str = ""


@dataclass
class Hvdc:
    name: str
    area: str
    import_mw: float
    rating_mw: float
    description: str = ""


@dataclass
class Event:
    t_s: float
    kind: str
    area: str = ""
    mw: float = 0.0
    link: str = ""


@dataclass
class Scenario:
    name: str
    description: str = ""
    noise: bool = False
    hourly: bool = False
    lfc: bool = True
    fcr: bool = True
    trace: str = ""
    trace_until: str = ""
    ou_std_mhz: float = 0.0
    ou_tau_s: float = 300.0
    ou_day_mean_mhz: float = 0.0
    hours: float = 1.0
    events: list = field(default_factory=list)


@dataclass
class World:
    name: str
    path: str
    f0_hz: float
    lfc_cycle_s: float
    slack: str
    isp_s: float
    areas: list
    ties: list
    hvdc: list
    scenarios: dict
    description: str = ""

    def area_index(self, name):
        for i, a in enumerate(self.areas):
            if a.name == name:
                return i
        raise KeyError(name)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"]+)\s*=")


def _line_index(text):
    """Map a dotted field path (tuple) to the 1-based line where it is written."""
    index = {}
    counts = {}
    table = ()
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0] if '"' not in raw else raw
        m = _HEADER.match(line)
        if m:
            parts = tuple(p.strip().strip('"') for p in m.group(2).split("."))
            if m.group(1) == "[[":
                i = counts.get(parts, 0)
                counts[parts] = i + 1
                table = parts + (i,)
            else:
                table = parts
            index.setdefault(table, no)
            continue
        m = _KEY.match(line)
        if m:
            key = m.group(1).strip('"')
            index.setdefault(table + (key,), no)
            index.setdefault(table + (key, "*"), no)
    return index


class _Checker:
    def __init__(self, path, text):
        self.path = path
        self.lines = _line_index(text)

    def line(self, loc):
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            # events written inline: look for the key that holds the list
            loc = loc[:-1]
        return None

    def fail(self, loc, msg):
        raise WorldError(self.path, self.line(loc), ".".join(str(p) for p in loc), msg)

    def fields(self, loc, data, spec):
        if not isinstance(data, dict):
            self.fail(loc, "must be a table")
        for key in data:
            if key not in spec:
                self.fail(loc + (key,), "unknown field (allowed: %s)" % ", ".join(sorted(spec)))
        out = {}
        for key, (kind, lo, hi, default) in spec.items():
            if key not in data:
                if default is None:
                    self.fail(loc + (key,), "required field missing")
                out[key] = default
                continue
            v = data[key]
            where = loc + (key,)
            if kind == "float":
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    self.fail(where, "must be a number (got %r)" % (v,))
                v = float(v)
                if math.isnan(v) or v < lo or v > hi:
                    self.fail(where, "must be in [%g, %g] (got %g)" % (lo, hi, v))
            elif kind == "str":
                if not isinstance(v, str):
                    self.fail(where, "must be a string (got %r)" % (v,))
            elif kind == "bool":
                if not isinstance(v, bool):
                    self.fail(where, "must be true or false (got %r)" % (v,))
            elif kind == "list":
                if not isinstance(v, list):
                    self.fail(where, "must be an array (got %r)" % (v,))
            out[key] = v
        return out


def load_world(path):
    """Read and validate a world TOML file; WorldError('file:line: field: msg') if bad."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise WorldError(path, None, "file", "cannot read (%s)" % e.strerror) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise WorldError(path, int(m.group(1)) if m else None, "syntax", str(e)) from None
    return world_from_dict(data, path, text)


def world_from_dict(data, path="<dict>", text=""):
    ck = _Checker(path, text)
    top = {"world", "areas", "ties", "hvdc", "scenarios"}
    for key in data:
        if key not in top:
            ck.fail((key,), "unknown section (allowed: %s)" % ", ".join(sorted(top)))
    if "world" not in data:
        ck.fail(("world",), "section missing")
    w = ck.fields(("world",), data["world"], WORLD_FIELDS)
    areas_d = data.get("areas")
    if not isinstance(areas_d, dict) or not areas_d:
        ck.fail(("areas",), "at least one [areas.NAME] table is required")
    areas = []
    for name, ad in areas_d.items():
        a = ck.fields(("areas", name), ad, AREA_FIELDS)
        if a["k_mw_per_hz"] < 0:
            a["k_mw_per_hz"] = a["d_mw_per_hz"] + a["fcr_gain_mw_per_hz"]
        if a["frce_l2_mw"] < a["frce_l1_mw"]:
            ck.fail(("areas", name, "frce_l2_mw"), "must be >= frce_l1_mw")
        areas.append(Area(name=name, **a))
    names = {a.name for a in areas}
    ties = []
    ties_d = data.get("ties", [])
    if not isinstance(ties_d, list):
        ck.fail(("ties",), "must be an array of tables [[ties]]")
    seen = set()
    for i, td in enumerate(ties_d):
        t = ck.fields(("ties", i), td, TIE_FIELDS)
        for end in ("a", "b"):
            if t[end] not in names:
                ck.fail(("ties", i, end), "unknown area %r" % t[end])
        if t["a"] == t["b"]:
            ck.fail(("ties", i, "b"), "a tie must join two different areas")
        pair = frozenset((t["a"], t["b"]))
        if pair in seen:
            ck.fail(("ties", i, "b"), "second tie between %s and %s: merge them" % tuple(pair))
        seen.add(pair)
        if not t["name"]:
            t["name"] = "%s-%s" % (t["a"], t["b"])
        ties.append(Tie(**t))
    hvdc = []
    hv_d = data.get("hvdc", [])
    if not isinstance(hv_d, list):
        ck.fail(("hvdc",), "must be an array of tables [[hvdc]]")
    for i, hd in enumerate(hv_d):
        h = ck.fields(("hvdc", i), hd, HVDC_FIELDS)
        if h["area"] not in names:
            ck.fail(("hvdc", i, "area"), "unknown area %r" % h["area"])
        if abs(h["import_mw"]) > h["rating_mw"]:
            ck.fail(("hvdc", i, "import_mw"), "exceeds rating_mw %g" % h["rating_mw"])
        hvdc.append(Hvdc(**h))
    links = {h.name for h in hvdc}
    if w["slack"] and w["slack"] not in names:
        ck.fail(("world", "slack"), "unknown area %r" % w["slack"])
    if not w["slack"]:
        w["slack"] = areas[0].name
    scen = {}
    sc_d = data.get("scenarios", {})
    if not isinstance(sc_d, dict):
        ck.fail(("scenarios",), "must be tables [scenarios.NAME]")
    for sname, sd in sc_d.items():
        s = ck.fields(("scenarios", sname), sd, SCENARIO_FIELDS)
        evs = []
        for j, ed in enumerate(s.pop("events")):
            loc = ("scenarios", sname, "events", j)
            e = ck.fields(loc, ed, EVENT_FIELDS)
            if e["kind"] not in EVENT_KINDS:
                ck.fail(loc + ("kind",), "must be one of %s" % ", ".join(sorted(EVENT_KINDS)))
            if e["kind"] == "load_step" and e["area"] not in names:
                ck.fail(loc + ("area",), "unknown area %r" % e["area"])
            if e["kind"].startswith("hvdc") and e["link"] not in links:
                ck.fail(loc + ("link",), "unknown hvdc link %r" % e["link"])
            evs.append(Event(**e))
        if s["trace"]:
            tp = pathlib.Path(s["trace"])
            if not tp.is_absolute():
                tp = pathlib.Path(path).parent / tp
            s["trace"] = str(tp)
        scen[sname] = Scenario(name=sname, events=evs, **s)
    scen.setdefault("quiet", Scenario(name="quiet", description="no disturbance (built in)"))
    return World(name=w["name"], path=str(path), f0_hz=w["f0_hz"], lfc_cycle_s=w["lfc_cycle_s"],
                 slack=w["slack"], isp_s=w["isp_s"], areas=areas, ties=ties, hvdc=hvdc,
                 scenarios=scen, description=w["description"])
