# Report folder of a HIL run: summary.json, report.md, report.html, timeseries.csv, PNG plots;
# terminal table.
import csv
import json
import pathlib

from afrr import regmap
from afrr.controller import F_SOC_LIMIT as _F_SOC_LIMIT
from hil import socmetrics
from hil.scenario import start_utc_s

PLOTS = ("frequency.png", "frce.png", "setpoint.png", "soc.png", "link.png")
LOG_TAIL_LINES = 60  # firmware log lines shown in report.html

# timeseries.csv, one row per simulated second: (column, sample key or callable). The first
# columns keep their historical names; f_mhz and area_ace_kw are the values at the end of the
# second, the *_min/_mean/_max columns the envelope over every native step of the emulator.
_SAMPLE_COLUMNS = (
    ("t_s", "t_s"), ("f_mhz", "f_mhz"), ("area_ace_kw", "area_ace_kw"),
    ("sp_req_kw", "sp_req_kw"), ("p_set_kw", "p_set_kw"),
    ("p_kw", lambda s: round(s["p_kw"], 3)), ("soc", lambda s: round(s["soc"], 6)),
    ("failsafe", lambda s: int(s["failsafe"])), ("link_ok", lambda s: int(s["link_ok"])),
    ("base_kw", lambda s: s.get("base_kw", 0)),
    ("soc_pct", lambda s: round(100 * s["soc"], 4)),
    ("f_min_mhz", "f_min_mhz"), ("f_mean_mhz", "f_mean_mhz"), ("f_max_mhz", "f_max_mhz"),
    ("area_ace_min_kw", "ace_min_kw"), ("area_ace_mean_kw", "ace_mean_kw"),
    ("area_ace_max_kw", "ace_max_kw"))
_ROUND = {"f_min_mhz": 3, "f_mean_mhz": 3, "f_max_mhz": 3, "ace_min_kw": 1, "ace_mean_kw": 1,
          "ace_max_kw": 1}


def fw_columns():
    """(column, output name) for every register the firmware answers a step with, prefixed
    fw_, unit in the name (the register map's unit where the name lacks one)."""
    cols = []
    for _addr, name, _kind, unit, _src in regmap.INPUT:
        col = name if name.startswith("fw_") else "fw_" + name
        if unit == "bits" and not name.endswith("_bits"):
            col += "_bits"
        cols.append((col, name))
    return cols


def timeseries_header():
    return [c for c, _ in _SAMPLE_COLUMNS] + [c for c, _ in fw_columns()]


def timeseries_row(s, fw_cols):
    row = []
    for _col, key in _SAMPLE_COLUMNS:
        if callable(key):
            row.append(key(s))
        elif key in _ROUND:
            v = s.get(key)
            row.append("" if v is None else round(v, _ROUND[key]))
        else:
            row.append(s[key])
    out = s.get("fw")
    row += [""] * len(fw_cols) if out is None else [out.get(name, "") for _c, name in fw_cols]
    return row


def _table_rows(summary):
    rows = []
    for c in summary["criteria"]:
        bound = []
        if c["min"] is not None:
            bound.append(">= %g" % c["min"])
        if c["max"] is not None:
            bound.append("<= %g" % c["max"])
        rows.append((c["metric"], _fmt(c["value"]), " and ".join(bound),
                     "pass" if c["ok"] else "FAIL"))
    return rows


def _fmt(v):
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def terminal_table(summary, out_dir):
    rows = [("metric", "value", "criterion", "")] + _table_rows(summary)
    info = [("steps", summary["steps"]), ("wall s", summary["wall_s"]),
            ("steps/s", summary["steps_per_s"]), ("energy up kWh", summary["energy_up_kwh"]),
            ("energy down kWh", summary["energy_down_kwh"]),
            ("retries", summary["retries"]), ("late replies", summary["late_replies"]),
            ("fw CRC errors", summary["fw_crc_errors"]),
            ("injected request frames corrupted", summary["injected_req_frames_corrupted"])]
    if summary.get("acceptance_passed") is not None:
        info.append(("acceptance", "%s, %s of %s ISPs failed, %s s charged, under %.3f/%.3f kWh "
                     "up/down" % ("passed" if summary["acceptance_passed"] else "FAILED",
                                  summary["acceptance_isps_failed"], summary["acceptance_isps"],
                                  summary["acceptance_charged_s"],
                                  summary["acceptance_under_kwh_pos"],
                                  summary["acceptance_under_kwh_neg"])))
    if "revenue_eur" in summary:
        info.append(("revenue EUR", summary["revenue_eur"]))
    w = [max(len(str(r[i])) for r in rows) for i in range(4)]
    lines = ["%s: %s, %s, %s control" % (summary["scenario"], summary["target"],
                                         summary["mode"], summary["control_mode"])]
    for r in rows:
        lines.append("  " + "  ".join(str(x).ljust(w[i]) for i, x in enumerate(r)).rstrip())
    lines.append("  " + ", ".join("%s %s" % (k, _fmt(v)) for k, v in info))
    for wmsg in summary.get("warnings", []):
        lines.append("  warning: " + wmsg)
    lines.append("%s  report: %s" % ("PASS" if summary["passed"] else "FAIL", out_dir))
    return "\n".join(lines)


def write(run, summary, acc, out_dir):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    fw_cols = fw_columns()
    with open(out / "timeseries.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(timeseries_header())
        for s in run.samples:
            w.writerow(timeseries_row(s, fw_cols))
    (out / "firmware.log").write_text(run.firmware_log or "")
    plots = _plots(run, acc, out, summary)
    for p in PLOTS:  # a plot not made this time (link.png of a clean run) must not linger
        if p not in plots:
            (out / p).unlink(missing_ok=True)
    soc_md = []
    if run.cfg.get("unit_type") == 0 and run.samples:
        plots = list(plots) + [socmetrics.plot(run, run.cfg, out)]
        soc_md = socmetrics.markdown(summary)
    local = run.sc.scenario["mode"] != "remote"
    md = ["# HIL run: %s" % summary["scenario"], "",
          "%s on `%s`, %s, %s control: **%s**" % (
              run.sc.scenario["description"] or run.sc.path.name, summary["target"],
              summary["mode"], summary["control_mode"],
              "PASS" if summary["passed"] else "FAIL"), "",
          "| criterion | value | bound | verdict |", "|---|---|---|---|"]
    for r in _table_rows(summary):
        md.append("| %s | %s | %s | %s |" % r)
    md += ["", "| metric | value |", "|---|---|"]
    for k, v in _metrics(summary):
        md.append("| %s | %s |" % (k, _fmt(v)))
    if summary.get("settlement"):
        md += ["", "## Settlement per ISP (delivered energy x CBMP of the unit's area)", "",
               "| ISP start [s] | up [kWh] | down [kWh] | avg TSO set-point [kW] | revenue [EUR] |",
               "|---|---|---|---|---|"]
        for r in _settlement_rows(summary):
            md.append("| %d | %.3f | %.3f | %.1f | %.2f |" % tuple(r))
        md.append("| total | | | | %.2f |" % summary["revenue_eur"])
    if acc is not None:
        md += ["", "## Acceptance per ISP (German TSOs' acceptance band, allocable "
               "under-fulfilment)", "", ACCEPTANCE_LOCAL_NOTE if local else "",
               "", "| " + " | ".join(ACC_HEADER) + " |", "|---|---|---|---|---|---|---|"]
        for r in _acceptance_rows(acc):
            md.append("| %s | %d | %.3f / %.3f | %.3f / %.3f | %d | %d | %s |" % tuple(r))
    md += soc_md
    md += ["", "Unit configuration written over Modbus: " + ", ".join(
        "%s=%s" % kv for kv in summary["config"].items()), ""]
    if "link.png" not in plots:
        md += [NO_LINK_ERRORS, ""]
    for p in plots:
        md.append("![%s](%s)" % (p[:-4], p))
    (out / "report.md").write_text("\n".join(md) + "\n")
    _html(run, summary, acc, out, plots)


ACC_HEADER = ("ISP (UTC)", "s", "accepted up / down [kWh]", "under-fulfilled up / down [kWh]",
              "flagged s", "charged s", "verdict")
ACCEPTANCE_LOCAL_NOTE = (
    "Local control: the acceptance channel is drawn around the firmware's own set-point, so it "
    "shows that the plant followed the firmware, not that the unit's aFRR response was right.")
NO_LINK_ERRORS = "Link errors: none (no failed step, no retry, no CRC error, nothing injected)."
_CAPTIONS = {
    "frequency.png": "Frequency of the unit's area: band = minimum..maximum over every emulator "
                     "step in each second, line = mean; dashed +-50 mHz, dotted +-200 mHz.",
    "frce.png": "Area control error: the emulator's envelope and what the firmware measured and "
                "filtered (FRCE); below, the unit's share: the firmware's PI output and its "
                "limits.",
    "setpoint.png": "Set-point (firmware) over the delivered power, the limits in force, the "
                    "acceptance tolerance band and the seconds charged as under-fulfilment.",
    "soc.png": "Battery state of charge and the guard window from the unit configuration.",
    "soc_baseline.png": "State of charge with the SoC window, the guard band and the target "
                        "window; the baseline in force per ISP.",
    "link.png": "Link errors: failed steps, retries, the firmware's CRC counter and the frames "
                "the fault proxy corrupted.",
}


def _metrics(summary):
    skip = ("criteria", "config", "warnings", "settlement")
    return [(k, v) for k, v in summary.items() if k not in skip]


def _settlement_rows(summary):
    return [[r["isp_start_s"], r["energy_up_kwh"], r["energy_down_kwh"], r["avg_setpoint_kw"],
             r["revenue_eur"]] for r in summary.get("settlement") or []]


def _acceptance_rows(acc):
    return [["%s - %s" % (q["isp_start_utc"], q["isp_end_utc"][11:]), q["seconds"],
             q["accepted_kwh_pos"], q["accepted_kwh_neg"], q["under_kwh_pos"],
             q["under_kwh_neg"], q["flagged_s_pos"] + q["flagged_s_neg"],
             q["charged_seconds"], "pass" if q["passed"] else "FAIL"] for q in acc.isps]


def _html(run, summary, acc, out, plots):
    from host.htmlpage import Page
    from host.metrics.utc import utc_iso
    sc = run.sc
    t0 = start_utc_s(sc)
    page = Page("HIL run: %s" % summary["scenario"])
    page.verdict(summary["passed"], "%s on %s, %s, %s control; %d s simulated from %s" % (
        sc.scenario["description"] or sc.path.name, summary["target"], summary["mode"],
        summary["control_mode"], summary["sim_seconds"], utc_iso(t0)))
    for wmsg in summary.get("warnings", []):
        page.text("warning: " + wmsg, note=True)
    page.heading("Criteria")
    page.table(("criterion", "value", "bound", "verdict"), _table_rows(summary),
               bad=lambda r: r[3] != "pass")
    page.heading("Plots")
    if sc.scenario["mode"] != "remote":
        page.text(ACCEPTANCE_LOCAL_NOTE, note=True)
    if "link.png" not in plots:
        page.text(NO_LINK_ERRORS, note=True)
    for p in plots:
        page.figure(out / p, _CAPTIONS.get(p, p))
    if acc is not None:
        page.heading("Acceptance per ISP")
        page.table(ACC_HEADER, [[r[0], r[1], "%.3f / %.3f" % (r[2], r[3]),
                                 "%.3f / %.3f" % (r[4], r[5]), r[6], r[7], r[8]]
                                for r in _acceptance_rows(acc)], bad=lambda r: r[6] != "pass")
    if summary.get("settlement"):
        page.heading("Settlement per ISP (delivered energy x CBMP of the unit's area)")
        page.table(("ISP start [s]", "up [kWh]", "down [kWh]", "avg TSO set-point [kW]",
                    "revenue [EUR]"), _settlement_rows(summary))
    page.heading("Metrics")
    page.table(("metric", "value"), [[k, v if isinstance(v, (int, float, str)) or v is None
                                      else json.dumps(v)] for k, v in _metrics(summary)])
    page.heading("Unit configuration (written over Modbus)")
    page.table(("field", "value"), [[k, v] for k, v in summary["config"].items()])
    page.heading("Firmware log (last %d lines)" % LOG_TAIL_LINES)
    lines = (run.firmware_log or "").splitlines()
    page.pre("\n".join(lines[-LOG_TAIL_LINES:]) if lines else "(the firmware printed nothing)")
    page.text("Files beside this page: summary.json, report.md, timeseries.csv, firmware.log, "
              "%s." % ", ".join(plots), note=True)
    page.write(out / "report.html")


def shade(ax, summary):
    """Shade the link cuts and set-point losses (grey) and the time on the fail-safe path (red,
    hatched), from summary.json's *_windows_s: during a cut the rig hears nothing, so the
    fail-safe part there is the measured engagement (failsafe_engage_s)."""
    if not summary:
        return
    for key, label, kw in (
            ("cut_windows_s", "link cut", {"color": "0.5", "alpha": 0.25}),
            ("loss_windows_s", "set-point loss", {"color": "tab:purple", "alpha": 0.15}),
            ("failsafe_windows_s", "fail-safe", {"color": "tab:red", "alpha": 0.12,
                                                 "hatch": "//"})):
        for i, (lo, hi) in enumerate(summary.get(key, [])):
            ax.axvspan(lo, hi, label=label if i == 0 else None, lw=0, **kw)


def _ffill(samples, name):
    """The firmware output `name` per sample, the last answer carried over failed steps
    (NaN before the first answer)."""
    v, out = float("nan"), []
    for s in samples:
        o = s.get("fw")
        if o is not None and name in o:
            v = o[name]
        out.append(v)
    return out


def _link_errors(run):
    st = run.steps
    px = run.link.proxy if getattr(run, "link", None) is not None else None
    return any(not x["ok"] or x["retries"] for x in st) or \
        any(x["fw_crc_total"] for x in st if x["fw_crc_total"] is not None) or \
        bool(px is not None and any(px.stats[d].get(k) for d in ("req", "resp")
                                    for k in ("corrupted", "lost", "bytes_dropped")))


def _buckets(t, lo, mean, hi, n):
    """Envelope over n consecutive samples: (t at each bucket's end, min of lo, mean of mean,
    max of hi); a day of 1 s samples drawn per minute keeps its extremes."""
    import numpy as np
    if n <= 1 or len(t) < n:
        return t, lo, mean, hi
    pad = -len(t) % n  # the last bucket may be short: padded with NaN, which nan* skip

    def rs(a):
        return np.concatenate([a, np.full(pad, np.nan)]).reshape(-1, n)
    ends = np.append(t[n - 1::n], t[-1]) if pad else t[n - 1::n]
    return (ends, np.nanmin(rs(lo), axis=1), np.nanmean(rs(mean), axis=1),
            np.nanmax(rs(hi), axis=1))


def _plots(run, acc, out, summary=None):
    """Write the PNG plots; returns the names of those written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from host.timeaxis import utc_axis

    s = run.samples
    t = np.array([x["t_s"] for x in s], dtype=float)
    span = max(float(t[-1]) if len(t) else 1.0, 1.0)
    t0 = start_utc_s(run.sc)
    long_run = span > 6 * 3600
    lw = 0.6 if long_run else 1.0
    written = []

    def col(key, fallback=None):
        return np.array([x.get(key, x.get(fallback) if fallback else None) for x in s],
                        dtype=float)

    restarts = [float(x) for x in run.sc.link["restarts"]]

    def marks(ax):
        shade(ax, summary)
        for i, x in enumerate(restarts):  # a firmware kill and restart (link_faults)
            ax.axvline(x, color="tab:purple", lw=1.2, ls="-.",
                       label="firmware restart" if i == 0 else None)

    def finish(f, ax, name, title):
        marks(ax)
        utc_axis(ax, t0, span)
        ax.set_title(title)
        ax.legend(loc="best", fontsize=7)
        f.tight_layout()
        f.savefig(out / name, dpi=90)
        plt.close(f)
        written.append(name)

    # frequency: envelope band, mean, the +-50 / +-200 mHz lines
    f, ax = plt.subplots(figsize=(10, 3.4))
    per = "per minute" if long_run else "per second"
    tb, fmin, fmean, fmax = _buckets(t, col("f_min_mhz", "f_mhz"), col("f_mean_mhz", "f_mhz"),
                                     col("f_max_mhz", "f_mhz"), 60 if long_run else 1)
    ax.fill_between(tb, fmin, fmax, step="pre", color="tab:blue", alpha=0.35, lw=0,
                    label="min..max %s (every emulator step)" % per)
    for edge in (fmin, fmax):  # a sub-second spike is narrower than a pixel: draw the edges
        ax.plot(tb, edge, lw=0.5, color="tab:blue", alpha=0.6)
    ax.plot(tb, fmean, lw=lw, color="navy", label="mean " + per)
    lo, hi = np.nanmin(fmin), np.nanmax(fmax)
    reach = 200 if max(50000 - lo, hi - 50000) > 50 else 50  # the +-200 lines when relevant
    for d, ls in ((50, "--"), (200, ":")):
        if d > reach:
            continue
        for sign in (1, -1):
            ax.axhline(50000 + sign * d, color="0.3", lw=0.8, ls=ls,
                       label="50 Hz +-%d mHz" % d if sign > 0 else None)
    ax.set_ylim(min(lo, 50000 - reach) - 10, max(hi, 50000 + reach) + 10)
    ax.set_ylabel("f [mHz]")
    finish(f, ax, "frequency.png", "Frequency of %s: nadir %.1f mHz, peak %.1f mHz" % (
        run.area_name, lo, hi))

    cfg = run.cfg
    # ACE of the area (emulator envelope, firmware's view) and the unit's share (PI output)
    f, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True)
    tb, amin, _mean, amax = _buckets(t, col("ace_min_kw", "area_ace_kw") / 1000,
                                     col("ace_mean_kw", "area_ace_kw") / 1000,
                                     col("ace_max_kw", "area_ace_kw") / 1000,
                                     60 if long_run else 1)
    ax.fill_between(tb, amin, amax, step="pre", color="tab:orange", alpha=0.35, lw=0,
                    label="area ACE, emulator (min..max %s)" % per)
    for edge in (amin, amax):
        ax.plot(tb, edge, lw=0.5, color="tab:orange", alpha=0.7)
    ax.plot(t, np.array(_ffill(s, "ace_kw")) / 1000, lw=lw, color="tab:red",
            label="ACE measured by the firmware")
    ax.plot(t, np.array(_ffill(s, "frce_kw")) / 1000, lw=lw, color="k",
            label="FRCE (firmware, after deadband and filter)")
    ax.set_ylabel("area MW (+ = surplus)")
    marks(ax)
    utc_axis(ax, t0, span, label=False)
    ax.legend(loc="best", fontsize=7)
    ax.set_title("Area control error and the unit's share")
    pi = np.array(_ffill(s, "p_pi_kw"))
    view = 1.3 * max(cfg["band_up_kw"], cfg["band_down_kw"], cfg["rating_kw"], 1)
    clipped = bool(np.nanmax(np.abs(pi), initial=0) > view)
    ax2.plot(t, np.clip(pi, -view, view), lw=lw, color="tab:green",
             label="PI output (unit demand)" + (", clipped to the view" if clipped else ""))
    ax2.plot(t, _ffill(s, "lim_up_kw"), lw=0.8, color="0.3", ls="--", label="limits in force")
    ax2.plot(t, -np.array(_ffill(s, "lim_down_kw")), lw=0.8, color="0.3", ls="--")
    ax2.plot(t, col("p_set_kw"), lw=lw, color="tab:blue", label="set-point")
    ax2.set_ylim(-view * 1.05, view * 1.05)
    ax2.set_ylabel("unit kW (+ = upward)")
    finish(f, ax2, "frce.png", "")

    # set-point, delivered, limits, acceptance channel, charged seconds
    f, ax = plt.subplots(figsize=(10, 3.8))
    if acc is not None:
        ta = t[:acc.seconds]
        ax.fill_between(ta, acc.utg_kw, acc.otg_kw, step="pre", color="tab:green", alpha=0.18,
                        lw=0, label="tolerance band (UTG..OTG)")
        ch = np.asarray(acc.charged)
        if ch.any():
            ax.fill_between(ta, 0, 1, where=ch, step="pre", color="tab:red", alpha=0.3,
                            transform=ax.get_xaxis_transform(), lw=0,
                            label="charged seconds (allocable under-fulfilment)")
    ax.plot(t, col("p_kw"), lw=3 * lw, color="tab:orange", alpha=0.45, label="delivered")
    if run.sc.scenario["mode"] == "remote":
        ax.step(t, col("sp_req_kw"), where="pre", lw=lw, color="tab:purple", ls=":",
                label="TSO request")
    ax.step(t, col("p_set_kw"), where="pre", lw=lw, color="tab:blue", zorder=5,
            label="set-point (firmware)")
    # on top, dashed: where the set-point sits at a limit, both stay visible
    lim = {"lw": 1.0, "color": "tab:red", "ls": (0, (4, 3)), "zorder": 6}
    ax.plot(t, _ffill(s, "lim_up_kw"), label="limits in force (firmware)", **lim)
    ax.plot(t, -np.array(_ffill(s, "lim_down_kw")), **lim)
    ax.set_ylabel("kW (+ = upward)")
    title = "Unit set-point vs delivered power"
    if run.sc.scenario["mode"] != "remote":
        title += " (local control: channel around the firmware's own set-point)"
    finish(f, ax, "setpoint.png", title)

    # SoC and its guard window
    f, ax = plt.subplots(figsize=(10, 3.2))
    soc = 100 * col("soc")
    lo_g, hi_g = cfg["soc_min_x100"] / 100.0, cfg["soc_max_x100"] / 100.0
    ax.axhspan(lo_g, hi_g, color="tab:green", alpha=0.08, label="guard window %g..%g %%" % (
        lo_g, hi_g))
    ax.axhline(lo_g, color="tab:green", lw=0.8)
    ax.axhline(hi_g, color="tab:green", lw=0.8)
    ax.plot(t, soc, lw=lw, color="tab:blue", label="SoC")
    flags = np.array(_ffill(s, "flags"))
    guard = np.nan_to_num(flags).astype(int) & _F_SOC_LIMIT != 0
    if guard.any():
        ax.fill_between(t, 0, 1, where=guard, step="pre", color="tab:orange", alpha=0.15, lw=0,
                        transform=ax.get_xaxis_transform(), label="SoC guard narrowing a limit")
    ax.set_ylim(0, 100)
    ax.set_ylabel("SoC [%]")
    finish(f, ax, "soc.png", "Battery state of charge")

    # link errors: only when there were any
    if _link_errors(run):
        st = run.steps
        ts = [x["t_s"] for x in st]
        f, ax = plt.subplots(figsize=(10, 3.2))
        ax.step(ts, [0 if x["ok"] else 1 for x in st], where="post", label="step failed", lw=1)
        ax.step(ts, [x["retries"] for x in st], where="post", label="retries", lw=1)
        crc = [x["fw_crc_total"] if x["fw_crc_total"] is not None else float("nan") for x in st]
        ax.plot(ts, crc, label="firmware CRC errors (cumulative)", lw=1)
        ax.step(ts, [x["inj_req_corrupted"] for x in st], where="post", lw=1, ls="--",
                label="request frames corrupted by the proxy (cumulative)")
        ax.set_ylabel("count")
        finish(f, ax, "link.png", "Link errors")
    return written
