"""Balancing energy per ISP and the Elia-style per-minute publication, in UTC.

One definition, used by the emulator's table below and by the market publication
(host.market.publication):
  NRV = aFRR+ - aFRR- + IGCC+ - IGCC-      (net regulation volume; mFRR is not modelled)
  SI  = ACE - NRV                          (the imbalance before the balancing actions)
aFRR+/- is the balancing energy activated for the area (netting excluded), IGCC+ the netting
import (the area's deficit covered by another's surplus), IGCC- the netting export; all four
are >= 0 and kept apart. Times are UTC: every row carries the ISO 8601 start and end of its
ISP and of its minute.
"""
import numpy as np

from .utc import DEFAULT_START_UTC_S, utc_iso


def nrv_si(ace_mw, afrr_up_mw, afrr_down_mw, igcc_up_mw, igcc_down_mw):
    """(NRV, SI) in MW from the components (scalars or arrays): SI = ACE - NRV."""
    nrv = afrr_up_mw - afrr_down_mw + igcc_up_mw - igcc_down_mw
    return nrv, ace_mw - nrv


def isp_bounds(isp_start_utc_s, isp_s=900):
    """{'isp_start_utc', 'isp_end_utc'} of an ISP starting at a UTC epoch second."""
    return {"isp_start_utc": utc_iso(isp_start_utc_s),
            "isp_end_utc": utc_iso(isp_start_utc_s + isp_s)}


ISP_COLUMNS = ("isp_start_utc", "isp_end_utc", "afrr_up_mwh", "afrr_down_mwh", "igcc_in_mwh",
               "igcc_out_mwh")


def isp_table(t_s, dt_s, afrr_up_mw, afrr_down_mw, igcc_in_mw, igcc_out_mw, isp_s=900.0,
              start_utc_s=DEFAULT_START_UTC_S):
    """Energy per UTC ISP (MWh, all >= 0) of activated aFRR up/down and IGCC import/export.

    t_s: start of each interval, s since start_utc_s; dt_s: interval length (scalar or per
    interval); the four powers (MW, >= 0) hold over their interval. Rows: ISP_COLUMNS."""
    t = np.asarray(t_s, dtype=float)
    if len(t) == 0:
        return []
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), t.shape)
    q = np.floor((start_utc_s + t) / isp_s).astype(np.int64)
    keys, inv = np.unique(q, return_inverse=True)
    cols = [np.bincount(inv, weights=np.asarray(p, dtype=float) * dt, minlength=len(keys))
            / 3600.0 for p in (afrr_up_mw, afrr_down_mw, igcc_in_mw, igcc_out_mw)]
    rows = []
    for j, k in enumerate(keys):
        row = isp_bounds(int(k * isp_s), int(isp_s))
        row.update({c: float(v[j]) for c, v in zip(ISP_COLUMNS[2:], cols)})
        rows.append(row)
    return rows


def isp_energy(t_s, p_mw, isp_s=900.0, igcc_export_mw=None, start_utc_s=DEFAULT_START_UTC_S):
    """Per UTC ISP: activated aFRR up/down energy from power samples (+ = upward) at times t_s
    (s since start_utc_s), and IGCC import/export energy when igcc_export_mw (+ = export) is
    given. Each sample counts until the next one (the last for the median step). Rows:
    isp (UTC index), isp_start_utc, isp_end_utc, afrr_up_mwh, afrr_down_mwh, igcc_in_mwh,
    igcc_out_mwh."""
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(p_mw, dtype=float)
    if len(t) == 0:
        return []
    dt = np.diff(t, append=t[-1] + (np.median(np.diff(t)) if len(t) > 1 else 1.0))
    g = np.zeros_like(p) if igcc_export_mw is None else np.asarray(igcc_export_mw, float)
    rows = isp_table(t, dt, np.maximum(p, 0), np.maximum(-p, 0), np.maximum(-g, 0),
                     np.maximum(g, 0), isp_s, start_utc_s)
    q = np.unique(np.floor((start_utc_s + t) / isp_s).astype(np.int64))
    for r, k in zip(rows, q):
        r["isp"] = int(k)
    return rows


ELIA_COLUMNS = ("isp_start_utc", "isp_end_utc", "minute", "minute_start_utc", "minute_end_utc",
                "ace_mw", "nrv_mw", "si_mw", "afrr_up_mw", "afrr_down_mw", "igcc_up_mw",
                "igcc_down_mw")


def elia_minute_table(t_s, ace_mw, afrr_mw, igcc_export_mw, isp_s=900.0,
                      start_utc_s=DEFAULT_START_UTC_S):
    """Rows per UTC quarter-hour and elapsed minute; values averaged over the elapsed part of
    the ISP, from its start to the end of the minute (ELIA_COLUMNS).

    t_s: s since start_utc_s; ace_mw: area ACE (+ = surplus); afrr_mw: activated aFRR (+ =
    upward); igcc_export_mw: netting exchange (+ = export, IGCC-; - = import, IGCC+)."""
    t = np.asarray(t_s, dtype=float)
    a = np.asarray(ace_mw, dtype=float)
    f = np.asarray(afrr_mw, dtype=float)
    g = np.asarray(igcc_export_mw, dtype=float)
    cols = {"ace": a, "up": np.maximum(f, 0), "dn": np.maximum(-f, 0),
            "iu": np.maximum(-g, 0), "id": np.maximum(g, 0)}
    rows = []
    tu = start_utc_s + t
    isp = np.floor(tu / isp_s).astype(np.int64)
    nmin = int(np.ceil(isp_s / 60.0))
    for q in np.unique(isp):
        sel = isp == q
        q0 = int(q * isp_s)
        tq = tu[sel] - q0
        for m in range(1, nmin + 1):
            el = tq < m * 60.0
            if not np.any(el) or (m > 1 and tq.max() < (m - 1) * 60.0):
                break
            v = {k: float(c[sel][el].mean()) for k, c in cols.items()}
            nrv, si = nrv_si(v["ace"], v["up"], v["dn"], v["iu"], v["id"])
            row = isp_bounds(q0, int(isp_s))
            row.update({"minute": m, "minute_start_utc": utc_iso(q0 + (m - 1) * 60),
                        "minute_end_utc": utc_iso(q0 + m * 60), "ace_mw": v["ace"],
                        "nrv_mw": nrv, "si_mw": si, "afrr_up_mw": v["up"],
                        "afrr_down_mw": v["dn"], "igcc_up_mw": v["iu"],
                        "igcc_down_mw": v["id"]})
            rows.append(row)
    return rows
