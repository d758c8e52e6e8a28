"""Elia-style publication per area (per quarter-hour and per elapsed minute) and BSP settlement.

Input is a cycle log: one row per 4 s optimisation cycle (host.market.run.MarketRun writes it).
Shape of the publication (elia-balancing-energy-per-minute.txt): for quarter-hour q and minute
m (1..15), every value covers the elapsed part of q, from its start to the end of minute m:
- ACE (MW): average ACE; SI (MW) = ACE - (aFRR+ - aFRR-), the imbalance before the aFRR
  that covered this area's demand (Elia: ACE minus the FRR activated for the area).
- aFRR+ / aFRR- (MW): average satisfied demand per direction (netting included, as PICASSO
  counts it), both >= 0.
- IGCC+ / IGCC- (MW): average netting import (deficit area) / export (surplus area).
- CBMP+ / CBMP- (EUR/MWh): CBMP weighted by the satisfied demand of that direction
  (empty when nothing was satisfied in that direction).
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

PUB_COLUMNS = ("area", "quarter_start_s", "minute", "si_mw", "ace_mw", "afrr_up_mw",
               "afrr_down_mw", "igcc_up_mw", "igcc_down_mw", "cbmp_up_eur_mwh",
               "cbmp_down_eur_mwh")


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


def publication(log, isp_s=900.0, minute_s=60.0):
    """Rows (dicts, PUB_COLUMNS) per area, quarter-hour and elapsed minute."""
    a = log.arrays()
    t = a["t_s"]
    rows = []
    if len(t) == 0:
        return rows
    n_min = int(round(isp_s / minute_s))
    q0 = math.floor(t[0] / isp_s) * isp_s
    while q0 <= t[-1]:
        # the log is in time order, so the cycles of q0 .. end of minute m are one slice
        i0 = int(np.searchsorted(t, q0))
        for m in range(1, n_min + 1):
            sel = slice(i0, int(np.searchsorted(t, q0 + m * minute_s)))
            if sel.stop == i0:
                continue
            for i, area in enumerate(log.areas):
                up, dn = a["sat_up_mw"][sel, i], a["sat_down_mw"][sel, i]
                ace = float(a["ace_mw"][sel, i].mean())
                rows.append(dict(
                    area=area, quarter_start_s=q0, minute=m,
                    si_mw=ace - float(up.mean() - dn.mean()), ace_mw=ace,
                    afrr_up_mw=float(up.mean()), afrr_down_mw=float(dn.mean()),
                    igcc_up_mw=float(a["netted_up_mw"][sel, i].mean()),
                    igcc_down_mw=float(a["netted_down_mw"][sel, i].mean()),
                    cbmp_up_eur_mwh=_wavg(a["cbmp"][sel, i], up),
                    cbmp_down_eur_mwh=_wavg(a["cbmp"][sel, i], dn)))
        q0 += isp_s
    return rows


def area_energy_cost_eur(rows, isp_s=900.0):
    """What each area's TSO pays for its satisfied demand, from the full-ISP publication rows:
    aFRR+ x T x CBMP+ - aFRR- x T x CBMP-, summed (EUR)."""
    last = max(r["minute"] for r in rows) if rows else 0
    out = {}
    for r in rows:
        if r["minute"] != last:
            continue
        h = isp_s / 3600.0
        c = 0.0
        if r["afrr_up_mw"] > 0:
            c += r["afrr_up_mw"] * h * r["cbmp_up_eur_mwh"]
        if r["afrr_down_mw"] > 0:
            c -= r["afrr_down_mw"] * h * r["cbmp_down_eur_mwh"]
        out[r["area"]] = out.get(r["area"], 0.0) + c
    return out


def settlement(log, isp_s=900.0, extra=None):
    """Unit settlement per ISP: rows {isp_start_s, energy_up_kwh, energy_down_kwh,
    revenue_eur, avg_setpoint_kw} + per-ISP columns from `extra` (isp_start_s -> dict)."""
    a = log.arrays()
    t = a["t_s"]
    if not len(t) or not log.unit_area:
        return []
    i = log.areas.index(log.unit_area)
    p = a["unit_delivered_kw"]
    price = a["cbmp"][:, i]
    e_kwh = p * log.cycle_s / 3600.0
    rev = e_kwh / 1000.0 * price            # MWh x EUR/MWh; + = BSP earns
    isp = np.floor(t / isp_s) * isp_s
    rows = []
    for q in np.unique(isp):
        sel = isp == q
        row = dict(isp_start_s=float(q),
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
    """Per area: aFRR+/- and IGCC per ISP (bars) and CBMP+/- (lines), full-ISP rows."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    last = max(r["minute"] for r in rows)
    areas = list(dict.fromkeys(r["area"] for r in rows))
    fig, axes = plt.subplots(len(areas), 2, figsize=(12, 2.4 * len(areas)), squeeze=False,
                             sharex=True)
    for k, area in enumerate(areas):
        rs = [r for r in rows if r["area"] == area and r["minute"] == last]
        h = [r["quarter_start_s"] / 3600.0 for r in rs]
        ax = axes[k][0]
        ax.step(h, [r["afrr_up_mw"] for r in rs], where="post", label="aFRR+")
        ax.step(h, [-r["afrr_down_mw"] for r in rs], where="post", label="aFRR-")
        ax.step(h, [r["igcc_up_mw"] - r["igcc_down_mw"] for r in rs], where="post",
                label="IGCC+/-", ls="--")
        ax.set_ylabel(f"{area} MW")
        ax.legend(fontsize=7, loc="upper right")
        ax = axes[k][1]
        ax.step(h, [r["cbmp_up_eur_mwh"] for r in rs], where="post", label="CBMP+")
        ax.step(h, [r["cbmp_down_eur_mwh"] for r in rs], where="post", label="CBMP-")
        ax.set_ylabel("EUR/MWh")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1][0].set_xlabel("hour")
    axes[-1][1].set_xlabel("hour")
    fig.suptitle(title or "aFRR publication per ISP")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
