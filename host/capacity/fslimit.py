"""Frequency-stability limit of LT-PL: the largest import/export at which islanding the Baltic
block keeps RoCoF and nadir/zenith inside limits, found by bisection over emulator runs.

Source (baltic-lt-ccm-explanatory-note.txt): "TTC limitations resulting from frequency stability
will be based on calculations covering transition of Baltic power systems to island operation",
evaluating free control capacities of HVDC links, of battery energy storage systems, of FCR,
the demand connected and system inertia, against two criteria: RoCoF, and zenith and nadir.

Model (our reading, documented): the island is the world's Baltic areas (default LT, LV, EE,
their AC ties and HVDC injections kept); all other areas and the ties to them are dropped. An
exchange P over the lost border becomes, at t = 1 s, an imbalance of the island: importing P
(PL->LT) = deficit P (load step +P in the border's area), exporting = surplus. The TSO LFC
is off (aFRR is far too slow for the first seconds); FCR acts with its droop, deadband and
saturation. Battery and HVDC headroom (free control capacity) are added as fast FCR-like
reserve in the areas given: full activation at 200 mHz (FCR definition, SO GL Annex V), i.e.
gain headroom / 0.2 Hz, saturated at the headroom. Inertia and FCR scale factors apply to every
island area. Frequency is the centre-of-inertia frequency of the island (sum M_i df_i / sum M_i),
the usual system RoCoF/nadir measure; RoCoF is taken over a sliding window (default 500 ms).
Limits (defaults, configurable): max instantaneous deviation 800 mHz (SO GL Annex III);
RoCoF 1.0 Hz/s over 500 ms (*assumed*).
The pass/fail verdict is monotone in P (a larger loss is never easier) for a linear model with
a saturating FCR, so bisection applies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

MAX_DEV_MHZ = 800.0     # SO GL Annex III: maximum instantaneous frequency deviation
ROCOF_HZ_S = 1.0        # assumed
ROCOF_WINDOW_S = 0.5    # assumed
FCR_FULL_HZ = 0.2       # SO GL Annex V: full FCR activation at +-200 mHz


@dataclass(frozen=True)
class FsCriteria:
    max_dev_mhz: float = MAX_DEV_MHZ
    rocof_hz_s: float = ROCOF_HZ_S
    rocof_window_s: float = ROCOF_WINDOW_S
    sim_s: float = 30.0          # assumed: nadir of an island with FCR lies within 30 s
    step_ms: int = 20

    def __post_init__(self):
        for k in ("max_dev_mhz", "rocof_hz_s", "rocof_window_s", "sim_s"):
            if not getattr(self, k) > 0:
                raise ValueError(f"{k} must be > 0, got {getattr(self, k)!r}")


@dataclass(frozen=True)
class FsResources:
    inertia_scale: float = 1.0   # x every island area's inertia_h_s
    fcr_scale: float = 1.0       # x every island area's FCR gain and saturation
    battery_mw: dict = None      # area -> MW of free battery control capacity
    hvdc_headroom_mw: dict = None  # area -> MW of free HVDC control capacity

    def __post_init__(self):
        if not (self.inertia_scale > 0 and self.fcr_scale >= 0):
            raise ValueError("inertia_scale must be > 0 and fcr_scale >= 0")
        for name in ("battery_mw", "hvdc_headroom_mw"):
            for a, v in (getattr(self, name) or {}).items():
                if not v >= 0:
                    raise ValueError(f"{name}[{a!r}] must be >= 0 MW")


def island_world(world, island, res):
    """A copy of `world` with only the island areas, their ties and HVDC links."""
    keep = [a for a in world.areas if a.name in island]
    missing = set(island) - {a.name for a in keep}
    if missing:
        raise ValueError(f"island: unknown area(s) {', '.join(sorted(missing))}")
    extra = {}
    for d in (res.battery_mw or {}, res.hvdc_headroom_mw or {}):
        for a, v in d.items():
            if a not in island:
                raise ValueError(f"headroom given for {a!r}, which is not in the island")
            extra[a] = extra.get(a, 0.0) + float(v)
    areas = []
    for a in keep:
        gain = a.fcr_gain_mw_per_hz * res.fcr_scale + extra.get(a.name, 0.0) / FCR_FULL_HZ
        fmax = a.fcr_max_mw * res.fcr_scale + extra.get(a.name, 0.0)
        areas.append(replace(a, inertia_h_s=a.inertia_h_s * res.inertia_scale,
                             fcr_gain_mw_per_hz=gain, fcr_max_mw=fmax))
    ties = [t for t in world.ties if t.a in island and t.b in island]
    hvdc = [h for h in world.hvdc if h.area in island]
    return replace(world, areas=areas, ties=ties, hvdc=hvdc, scenarios={},
                   slack=areas[0].name)


def island_response(world, area, p_mw, crit):
    """Simulate losing an exchange of p_mw (+ = import into `area` lost -> deficit).
    Returns (max |df| mHz, max |RoCoF| Hz/s) of the centre-of-inertia frequency."""
    from host.grid import Simulator
    from host.grid.world import Event, Scenario
    sc = Scenario(name="islanding", lfc=False, fcr=True, hours=crit.sim_s / 3600.0,
                  events=[Event(t_s=1.0, kind="load_step", area=area, mw=float(p_mw))])
    sim = Simulator(world, scenario=sc, step_ms=crit.step_ms, lfc=False)
    sim.start_recording(every_ms=int(world.lfc_cycle_s * 1000))
    cyc = int(round(world.lfc_cycle_s * 1000))
    total = int(math.ceil(crit.sim_s * 1000 / cyc)) * cyc
    sim.advance(total)
    df = np.asarray(sim.recording()["df_hz"], dtype=float)        # steps x areas, Hz
    m = sim.model.m
    coi = df @ m / m.sum()
    dt = crit.step_ms / 1000.0
    w = max(1, int(round(crit.rocof_window_s / dt)))
    f = np.concatenate([[0.0], coi])
    rocof = np.abs(f[w:] - f[:-w]) / (w * dt) if len(f) > w else np.abs(np.diff(f)) / dt
    return float(np.max(np.abs(coi)) * 1000.0), float(np.max(rocof))


def fs_limit(world, border_area, direction="import", island=("LT", "LV", "EE"),
             res=FsResources(), crit=FsCriteria(), upper_mw=2000.0, tol_mw=1.0,
             progress=None):
    """Largest exchange (MW) over the lost border, in `direction` ('import' into the island
    or 'export' from it), that islanding survives within `crit`. Returns a dict with the limit
    and the response at it. Bisection on [0, upper_mw] to tol_mw."""
    if direction not in ("import", "export"):
        raise ValueError(f"direction must be 'import' or 'export', got {direction!r}")
    if not (upper_mw > 0 and tol_mw > 0):
        raise ValueError("upper_mw and tol_mw must be > 0")
    w = island_world(world, set(island), res)
    sign = 1.0 if direction == "import" else -1.0

    def ok(p):
        dev, rocof = island_response(w, border_area, sign * p, crit)
        if progress:
            progress()
        return dev <= crit.max_dev_mhz and rocof <= crit.rocof_hz_s, dev, rocof

    good, dev_ok, r_ok = ok(0.0)
    if not good:
        return dict(limit_mw=0.0, direction=direction, max_dev_mhz=dev_ok, rocof_hz_s=r_ok,
                    bounded_by="fails without any exchange")
    top, dev_top, r_top = ok(upper_mw)
    if top:
        return dict(limit_mw=upper_mw, direction=direction, max_dev_mhz=dev_top,
                    rocof_hz_s=r_top, bounded_by="upper_mw (search range)")
    lo, hi = 0.0, upper_mw
    best = (dev_ok, r_ok)
    fail = (dev_top, r_top)
    while hi - lo > tol_mw:
        mid = 0.5 * (lo + hi)
        g, d, r = ok(mid)
        if g:
            lo, best = mid, (d, r)
        else:
            hi, fail = mid, (d, r)
    bound = "rocof" if fail[1] > crit.rocof_hz_s else "nadir/zenith"
    return dict(limit_mw=round(lo, 3), direction=direction, max_dev_mhz=best[0],
                rocof_hz_s=best[1], bounded_by=bound)
