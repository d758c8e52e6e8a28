# Report folder of a HIL run: summary.json, report.md, timeseries.csv, PNG plots; terminal table.
import csv
import json
import pathlib

PLOTS = ("frequency.png", "frce.png", "setpoint.png", "soc.png", "link.png")


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
    with open(out / "timeseries.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "f_mhz", "area_ace_kw", "sp_req_kw", "p_set_kw", "p_kw", "soc",
                    "failsafe", "link_ok"])
        for s in run.samples:
            w.writerow([s["t_s"], s["f_mhz"], s["area_ace_kw"], s["sp_req_kw"], s["p_set_kw"],
                        round(s["p_kw"], 3), round(s["soc"], 6), int(s["failsafe"]),
                        int(s["link_ok"])])
    (out / "firmware.log").write_text(run.firmware_log or "")
    _plots(run, acc, out)
    md = ["# HIL run: %s" % summary["scenario"], "",
          "%s on `%s`, %s, %s control: **%s**" % (
              run.sc.scenario["description"] or run.sc.path.name, summary["target"],
              summary["mode"], summary["control_mode"],
              "PASS" if summary["passed"] else "FAIL"), "",
          "| criterion | value | bound | verdict |", "|---|---|---|---|"]
    for r in _table_rows(summary):
        md.append("| %s | %s | %s | %s |" % r)
    md += ["", "| metric | value |", "|---|---|"]
    for k, v in summary.items():
        if k in ("criteria", "config", "warnings", "settlement"):
            continue
        md.append("| %s | %s |" % (k, _fmt(v)))
    if summary.get("settlement"):
        md += ["", "## Settlement per ISP (delivered energy x CBMP of the unit's area)", "",
               "| ISP start [s] | up [kWh] | down [kWh] | avg TSO set-point [kW] | revenue [EUR] |",
               "|---|---|---|---|---|"]
        for r in summary["settlement"]:
            md.append("| %d | %.3f | %.3f | %.1f | %.2f |" % (
                r["isp_start_s"], r["energy_up_kwh"], r["energy_down_kwh"],
                r["avg_setpoint_kw"], r["revenue_eur"]))
        md.append("| total | | | | %.2f |" % summary["revenue_eur"])
    if acc is not None:
        md += ["", "## Acceptance per ISP (German TSOs' acceptance band, allocable "
               "under-fulfilment)", "",
               "| ISP (UTC) | s | accepted up / down [kWh] | under-fulfilled up / down [kWh] "
               "| flagged s | charged s | verdict |", "|---|---|---|---|---|---|---|"]
        for q in acc.isps:
            md.append("| %s - %s | %d | %.3f / %.3f | %.3f / %.3f | %d | %d | %s |" % (
                q["isp_start_utc"], q["isp_end_utc"][11:], q["seconds"],
                q["accepted_kwh_pos"], q["accepted_kwh_neg"], q["under_kwh_pos"],
                q["under_kwh_neg"], q["flagged_s_pos"] + q["flagged_s_neg"],
                q["charged_seconds"], "pass" if q["passed"] else "FAIL"))
    md += ["", "Unit configuration written over Modbus: " + ", ".join(
        "%s=%s" % kv for kv in summary["config"].items()), ""]
    for p in PLOTS:
        md.append("![%s](%s)" % (p[:-4], p))
    (out / "report.md").write_text("\n".join(md) + "\n")


def _plots(run, acc, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = run.samples
    t = [x["t_s"] for x in s]

    def fig(name, ylabel, series, title, extra=None):
        f, ax = plt.subplots(figsize=(9, 3.2))
        for label, ys in series:
            ax.plot(t[:len(ys)], ys, label=label, lw=1)
        if extra:
            extra(ax)
        ax.set_xlabel("t [s]")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        f.tight_layout()
        f.savefig(out / name, dpi=90)
        plt.close(f)

    fig("frequency.png", "f [mHz]", [("frequency", [x["f_mhz"] for x in s])], "Frequency")
    fig("frce.png", "kW", [("area ACE (emulator)", [x["area_ace_kw"] for x in s])],
        "FRCE / ACE of the unit's area")

    def channel(ax):
        if acc is not None:
            ta = t[:acc.seconds]
            ax.fill_between(ta, acc.utg_kw, acc.otg_kw, color="tab:green",
                            alpha=0.15, label="tolerance band (UTG..OTG)")
            ch = acc.charged
            if ch.any():
                ax.fill_between(ta, 0, 1, where=ch, color="tab:red", alpha=0.2,
                                transform=ax.get_xaxis_transform(),
                                label="allocable under-fulfilment")
    series = [("set-point (firmware)", [x["p_set_kw"] for x in s]),
              ("delivered", [x["p_kw"] for x in s])]
    if run.sc.scenario["mode"] == "remote":
        series.insert(0, ("TSO request", [x["sp_req_kw"] for x in s]))
    fig("setpoint.png", "kW (+ = upward)", series,
        "Unit set-point vs delivered power", channel)
    fig("soc.png", "SoC [%]", [("SoC", [100 * x["soc"] for x in s])], "Battery state of charge")
    st = run.steps
    ts = [x["t_s"] for x in st]
    f, ax = plt.subplots(figsize=(9, 3.2))
    ax.step(ts, [0 if x["ok"] else 1 for x in st], where="post", label="step failed", lw=1)
    ax.step(ts, [x["retries"] for x in st], where="post", label="retries", lw=1)
    crc = [x["fw_crc_total"] if x["fw_crc_total"] is not None else float("nan") for x in st]
    ax.plot(ts, crc, label="firmware CRC errors (cumulative)", lw=1)
    ax.step(ts, [x["inj_req_corrupted"] for x in st], where="post", lw=1, ls="--",
            label="request frames corrupted by the proxy (cumulative)")
    ax.set_xlabel("t [s]")
    ax.set_title("Link errors")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    f.tight_layout()
    f.savefig(out / "link.png", dpi=90)
    plt.close(f)
