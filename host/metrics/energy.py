# Per-ISP balancing energy and the Elia-style per-minute publication table.
import numpy as np


def isp_energy(t_s, p_mw, isp_s=900.0):
    """Upward/downward energy (MWh) per ISP from power samples (+ = upward) at times t_s.

    Each sample counts for the interval until the next one (the last for the median step).
    Returns a list of dicts: isp (index), start_s, up_mwh, down_mwh (both >= 0).
    """
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(p_mw, dtype=float)
    if len(t) == 0:
        return []
    dt = np.diff(t, append=t[-1] + (np.median(np.diff(t)) if len(t) > 1 else 1.0))
    isp = np.floor(t / isp_s).astype(int)
    up = np.bincount(isp, weights=np.maximum(p, 0) * dt) / 3600.0
    dn = np.bincount(isp, weights=np.maximum(-p, 0) * dt) / 3600.0
    return [{"isp": int(i), "start_s": float(i * isp_s), "up_mwh": float(up[i]),
             "down_mwh": float(dn[i])} for i in np.unique(isp)]


ELIA_COLUMNS = ("isp_start_s", "minute", "si_mw", "ace_mw", "afrr_up_mw", "afrr_down_mw",
                "igcc_up_mw", "igcc_down_mw")


def elia_minute_table(t_s, ace_mw, afrr_mw, igcc_export_mw, isp_s=900.0):
    """Rows per quarter-hour and elapsed minute, values averaged over the elapsed part of the ISP.

    ace_mw: area ACE (+ = surplus); afrr_mw: activated aFRR (+ = upward);
    igcc_export_mw: netting exchange (+ = export, i.e. IGCC-); IGCC+ is netting import.
    SI = ACE - NRV with NRV = aFRR+ - aFRR- + IGCC+ - IGCC- (Elia: SI = ACE - NRV).
    """
    t = np.asarray(t_s, dtype=float)
    a = np.asarray(ace_mw, dtype=float)
    f = np.asarray(afrr_mw, dtype=float)
    g = np.asarray(igcc_export_mw, dtype=float)
    cols = {"ace": a, "up": np.maximum(f, 0), "dn": np.maximum(-f, 0),
            "iu": np.maximum(-g, 0), "id": np.maximum(g, 0)}
    rows = []
    isp = np.floor(t / isp_s).astype(int)
    for q in np.unique(isp):
        sel = isp == q
        tq = t[sel] - q * isp_s
        nmin = int(np.ceil(isp_s / 60.0))
        for m in range(1, nmin + 1):
            el = tq < m * 60.0
            if not np.any(el) or (m > 1 and tq.max() < (m - 1) * 60.0):
                break
            v = {k: float(c[sel][el].mean()) for k, c in cols.items()}
            nrv = v["up"] - v["dn"] + v["iu"] - v["id"]
            rows.append({"isp_start_s": float(q * isp_s), "minute": m,
                         "si_mw": v["ace"] - nrv, "ace_mw": v["ace"],
                         "afrr_up_mw": v["up"], "afrr_down_mw": v["dn"],
                         "igcc_up_mw": v["iu"], "igcc_down_mw": v["id"]})
    return rows
