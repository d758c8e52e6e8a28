"""Elia-style publication per area (per quarter-hour and per elapsed minute, UTC) and BSP
settlement.

Input is a cycle log: one row per 4 s optimisation cycle (host.market.run.MarketRun writes it),
anchored in UTC at log.start_utc_s. Shape of the publication (elia-balancing-energy-per-minute):
for quarter-hour q and minute m (1..15), every value covers the elapsed part of q, from its
start to the end of minute m; each row carries the UTC start and end of its ISP and minute.
- ACE (MW): average ACE.
- aFRR+ / aFRR- (MW): average aFRR activated for the area's demand, per direction (satisfied
  demand minus what netting covered), both >= 0.
- IGCC+ / IGCC- (MW): average netting import (deficit area) / export (surplus area), >= 0,
  never inside aFRR+/-.
- NRV and SI (MW): the one definition of host.metrics.energy.nrv_si, SI = ACE - NRV with
  NRV = aFRR+ - aFRR- + IGCC+ - IGCC-.
- cbmp_last_cycle_eur_mwh: the cross-border marginal price of the area in the minute's last
  4 s cycle (what the platform publishes per optimisation cycle).
- cbmp_up/down_demand_weighted_eur_mwh: the cycles' CBMP averaged with the satisfied demand of
  that direction as weights over the elapsed part of the ISP (empty when none was satisfied).
isp_table() gives per area and UTC ISP the energy of aFRR up/down and IGCC in/out.
Settlement of the unit per ISP: energy delivered per cycle x the CBMP of its area in that
cycle; upward energy is paid by the TSO, downward energy pays the CBMP to the TSO (a negative
CBMP pays the BSP). Positive revenue = money to the BSP.
"""
from __future__ import annotations

import csv
import math
import pathlib
from dataclasses import dataclass, field

import numpy as np

from host.metrics.energy import ISP_COLUMNS, isp_bounds, nrv_si
from host.metrics.energy import isp_table as _isp_table
from host.metrics.utc import DEFAULT_START_UTC_S, utc_iso

PUB_COLUMNS = ("area", "isp_start_utc", "isp_end_utc", "minute", "minute_start_utc",
               "minute_end_utc", "ace_mw", "nrv_mw", "si_mw", "afrr_up_mw", "afrr_down_mw",
               "igcc_up_mw", "igcc_down_mw", "cbmp_last_cycle_eur_mwh",
               "cbmp_up_demand_weighted_eur_mwh", "cbmp_down_demand_weighted_eur_mwh")


@dataclass
class CycleLog:
    """Per-cycle arrays (cycles x areas unless noted). MW, EUR/MWh, seconds."""
    areas: list
    cycle_s: float
    t_s: list = field(default_factory=list)              # cycle start, s since run start, rising
    ace_mw: list = field(default_factory=list)
    demand_mw: list = field(default_factory=list)        # LFC demand, + = upward
    sat_up_mw: list = field(default_factory=list)        # satisfied upward demand (>= 0)
    sat_down_mw: list = field(default_factory=list)      # satisfied downward demand (>= 0)
    netted_up_mw: list = field(default_factory=list)     # IGCC import (>= 0)
    netted_down_mw: list = field(default_factory=list)   # IGCC export (>= 0)
    cbmp: list = field(default_factory=list)             # EUR/MWh per area
    unit_setpoint_kw: list = field(default_factory=list)   # (cycles,), + = upward
    unit_delivered_kw: list = field(default_factory=list)  # (cycles,), mean over the cycle
    unit_area: str = ""
    start_utc_s: int = DEFAULT_START_UTC_S               # UTC epoch second of t_s = 0

    def append(self, t_s, ace, demand, sat_up, sat_down, net_up, net_down, cbmp,
               unit_sp_kw=0.0, unit_del_kw=0.0):
        self.t_s.append(float(t_s))
        for name, v in (("ace_mw", ace), ("demand_mw", demand), ("sat_up_mw", sat_up),
                        ("sat_down_mw", sat_down), ("netted_up_mw", net_up),
                        ("netted_down_mw", net_down), ("cbmp", cbmp)):
            getattr(self, name).append(np.asarray(v, dtype=float).copy())
        self.unit_setpoint_kw.append(float(unit_sp_kw))
        self.unit_delivered_kw.append(float(unit_del_kw))

    def arrays(self):
        na = len(self.areas)
        out = {"t_s": np.asarray(self.t_s, dtype=float)}
        for name in ("ace_mw", "demand_mw", "sat_up_mw", "sat_down_mw", "netted_up_mw",
                     "netted_down_mw", "cbmp"):
            v = getattr(self, name)
            out[name] = np.vstack(v) if v else np.zeros((0, na))
        out["unit_setpoint_kw"] = np.asarray(self.unit_setpoint_kw, dtype=float)
        out["unit_delivered_kw"] = np.asarray(self.unit_delivered_kw, dtype=float)
        return out


def _wavg(p, w):
    s = w.sum()
    return float((p * w).sum() / s) if s > 1e-12 else math.nan


def _components(a):
    """Per cycle and area: aFRR+ / aFRR- (activated, netting excluded), IGCC+ / IGCC- (MW)."""
    iu, idn = a["netted_up_mw"], a["netted_down_mw"]
    return (np.maximum(a["sat_up_mw"] - iu, 0.0), np.maximum(a["sat_down_mw"] - idn, 0.0),
            iu, idn)


def publication(log, isp_s=900.0, minute_s=60.0):
    """Rows (dicts, PUB_COLUMNS) per area, UTC quarter-hour and elapsed minute."""
    a = log.arrays()
    t = a["t_s"]
    rows = []
    if len(t) == 0:
        return rows
    up, dn, iu, idn = _components(a)
    n_min = int(round(isp_s / minute_s))
    t0 = log.start_utc_s
    q0 = math.floor((t0 + t[0]) / isp_s) * isp_s - t0      # ISP start, s since run start
    while q0 <= t[-1]:
        # the log is in time order, so the cycles of q0 .. end of minute m are one slice
        i0 = int(np.searchsorted(t, q0))
        q_utc = int(round(t0 + q0))
        for m in range(1, n_min + 1):
            sel = slice(i0, int(np.searchsorted(t, q0 + m * minute_s)))
            if sel.stop == i0:
                continue
            for i, area in enumerate(log.areas):
                u, d = up[sel, i].mean(), dn[sel, i].mean()
                gi, go = iu[sel, i].mean(), idn[sel, i].mean()
                ace = float(a["ace_mw"][sel, i].mean())
                nrv, si = nrv_si(ace, float(u), float(d), float(gi), float(go))
                row = {"area": area, **isp_bounds(q_utc, int(isp_s)), "minute": m,
                       "minute_start_utc": utc_iso(q_utc + (m - 1) * minute_s),
                       "minute_end_utc": utc_iso(q_utc + m * minute_s),
                       "ace_mw": ace, "nrv_mw": nrv, "si_mw": si,
                       "afrr_up_mw": float(u), "afrr_down_mw": float(d),
                       "igcc_up_mw": float(gi), "igcc_down_mw": float(go),
                       "cbmp_last_cycle_eur_mwh": float(a["cbmp"][sel.stop - 1, i]),
                       "cbmp_up_demand_weighted_eur_mwh":
                           _wavg(a["cbmp"][sel, i], a["sat_up_mw"][sel, i]),
                       "cbmp_down_demand_weighted_eur_mwh":
                           _wavg(a["cbmp"][sel, i], a["sat_down_mw"][sel, i])}
                rows.append(row)
        q0 += isp_s
    return rows


ISP_TABLE_COLUMNS = ("area",) + ISP_COLUMNS


def isp_table(log, isp_s=900.0):
    """Per area and UTC ISP: energy (MWh, >= 0) of activated aFRR up/down and IGCC in/out."""
    a = log.arrays()
    if not len(a["t_s"]):
        return []
    up, dn, iu, idn = _components(a)
    rows = []
    for i, area in enumerate(log.areas):
        for r in _isp_table(a["t_s"], log.cycle_s, up[:, i], dn[:, i], iu[:, i], idn[:, i],
                            isp_s, log.start_utc_s):
            rows.append({"area": area, **r})
    return rows


def area_energy_cost_eur(log):
    """What each area's TSO pays for its satisfied demand (aFRR and netting alike) at the
    cycle's CBMP: sum over cycles of (satisfied up - satisfied down) x cycle x CBMP (EUR)."""
    a = log.arrays()
    if not len(a["t_s"]):
        return {}
    pay = ((a["sat_up_mw"] - a["sat_down_mw"]) * a["cbmp"]).sum(axis=0) * log.cycle_s / 3600.0
    return {area: float(pay[i]) for i, area in enumerate(log.areas)}


def settlement(log, isp_s=900.0, extra=None):
    """Unit settlement per ISP: rows {isp_start_s (since the run start), isp_start_utc,
    isp_end_utc, energy_up_kwh, energy_down_kwh, revenue_eur, avg_setpoint_kw} + per-ISP
    columns from `extra` (isp_start_s -> dict)."""
    a = log.arrays()
    t = a["t_s"]
    if not len(t) or not log.unit_area:
        return []
    i = log.areas.index(log.unit_area)
    p = a["unit_delivered_kw"]
    price = a["cbmp"][:, i]
    e_kwh = p * log.cycle_s / 3600.0
    rev = e_kwh / 1000.0 * price            # MWh x EUR/MWh; + = BSP earns
    t0 = log.start_utc_s
    isp = np.floor((t0 + t) / isp_s) * isp_s - t0
    rows = []
    for q in np.unique(isp):
        sel = isp == q
        row = dict(isp_start_s=float(q), **isp_bounds(int(round(t0 + q)), int(isp_s)),
                   energy_up_kwh=float(e_kwh[sel][e_kwh[sel] > 0].sum()),
                   energy_down_kwh=float(-e_kwh[sel][e_kwh[sel] < 0].sum()) + 0.0,
                   revenue_eur=float(rev[sel].sum()),
                   avg_setpoint_kw=float(a["unit_setpoint_kw"][sel].mean()))
        if extra and float(q) in extra:
            row.update(extra[float(q)])
        rows.append(row)
    return rows


def write_csv(path, rows, columns=None):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(columns or (rows[0].keys() if rows else []))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else
                            (round(v, 4) if isinstance(v, float) else v))
                        for k, v in r.items() if k in columns})
    return path


def plot(path, rows, title=""):
    """Per area: aFRR+/- and IGCC per ISP (steps) and the cycles' CBMP averaged over the ISP
    weighted by the satisfied up / down demand (lines; not a clearing price themselves),
    full-ISP rows; x = UTC time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from host.metrics.utc import parse_utc
    from host.timeaxis import utc_axis
    last = max(r["minute"] for r in rows)
    areas = list(dict.fromkeys(r["area"] for r in rows))
    t_first = parse_utc(rows[0]["isp_start_utc"])
    fig, axes = plt.subplots(len(areas), 2, figsize=(12, 2.4 * len(areas)), squeeze=False,
                             sharex=True)
    for k, area in enumerate(areas):
        rs = [r for r in rows if r["area"] == area and r["minute"] == last]
        # s since the first ISP: each ISP's start, and the last one's end to close its step
        h = [parse_utc(r["isp_start_utc"]) - t_first for r in rs]
        h.append(parse_utc(rs[-1]["isp_end_utc"]) - t_first)

        def isp_step(ax, ys, **kw):
            ax.step(h, ys + ys[-1:], where="post", **kw)
        ax = axes[k][0]
        isp_step(ax, [r["afrr_up_mw"] for r in rs], label="aFRR+")
        isp_step(ax, [-r["afrr_down_mw"] for r in rs], label="aFRR-")
        isp_step(ax, [r["igcc_up_mw"] - r["igcc_down_mw"] for r in rs], label="IGCC+/-", ls="--")
        ax.set_ylabel(f"{area} MW")
        ax.legend(fontsize=7, loc="upper right")
        ax = axes[k][1]
        isp_step(ax, [r["cbmp_up_demand_weighted_eur_mwh"] for r in rs],
                 label="mean CBMP, weighted by satisfied aFRR+ demand")
        isp_step(ax, [r["cbmp_down_demand_weighted_eur_mwh"] for r in rs],
                 label="mean CBMP, weighted by satisfied aFRR- demand")
        ax.set_ylabel("EUR/MWh")
        ax.legend(fontsize=7, loc="upper right")
    span = parse_utc(rows[-1]["isp_end_utc"]) - t_first
    for k, row in enumerate(axes):
        for ax in row:
            utc_axis(ax, t_first, span, label=k == len(axes) - 1)
    fig.suptitle(title or "aFRR publication per ISP")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
