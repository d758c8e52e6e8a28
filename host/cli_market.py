"""`python -m host market`: run a market scenario over the emulator; publication + settlement."""
import json
import pathlib

import numpy as np

HELP = ("run the aFRR balancing market (PICASSO-style activation, IGCC netting, the unit as a "
        "BSP) over the grid emulator; write the per-minute publication, settlement, plot and "
        "report.html")


def configure(p):
    p.add_argument("market", help="market TOML file, e.g. host/worlds/baltic_market.toml")
    p.add_argument("--scenario", default="uncongested",
                   help="market scenario from the file (default: uncongested)")
    p.add_argument("--hours", type=float, default=None,
                   help="simulated hours (default: the scenario's 'hours')")
    p.add_argument("--out", default="out/market", help="output folder (default out/market)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the file's seed)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plot")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def unit_acceptance(log, start_utc_s):
    """The German acceptance model on the unit's 1 s set-point / delivered series (each 4 s
    cycle held; delivered is the cycle's mean), the run anchored at start_utc_s.
    AcceptanceResult, or None without cycles."""
    from host.metrics import evaluate
    a = log.arrays()
    if not len(a["t_s"]):
        return None
    rep = int(round(log.cycle_s))
    return evaluate(np.repeat(a["unit_setpoint_kw"], rep),
                    np.repeat(a["unit_delivered_kw"], rep), start_utc_s)


def acceptance_per_isp(acc, start_utc_s):
    """Settlement columns per ISP from an AcceptanceResult: {isp_start_s: {...}}."""
    if acc is None:
        return {}
    return {float(q["isp_start_utc_s"] - start_utc_s): {
        "acc_passed": q["passed"], "acc_charged_s": q["charged_seconds"],
        "acc_under_kwh_pos": q["under_kwh_pos"], "acc_under_kwh_neg": q["under_kwh_neg"],
        "acc_accepted_kwh_pos": q["accepted_kwh_pos"],
        "acc_accepted_kwh_neg": q["accepted_kwh_neg"]} for q in acc.isps}


def acceptance_summary(acc):
    """The verdict a summary states: ISPs failed, seconds and energy charged."""
    if acc is None:
        return {"passed": True, "isps": 0, "isps_failed": 0, "charged_seconds": 0,
                "under_kwh_pos": 0.0, "under_kwh_neg": 0.0}
    return {"passed": acc.passed, "isps": len(acc.isps), "isps_failed": acc.isps_failed,
            "charged_seconds": acc.charged_seconds,
            "under_kwh_pos": round(acc.under_kwh_pos, 3),
            "under_kwh_neg": round(acc.under_kwh_neg, 3)}


def acceptance_line(a):
    """One printed line of acceptance_summary()."""
    return ("acceptance: %s, %d of %d ISPs failed, %d s charged, under-fulfilled %.3f kWh up "
            "/ %.3f kWh down" % ("passed" if a["passed"] else "FAILED", a["isps_failed"],
                                 a["isps"], a["charged_seconds"], a["under_kwh_pos"],
                                 a["under_kwh_neg"]))


def html_report(summary, settle, out, plots):
    """report.html beside the CSV files: the run, the unit's settlement and acceptance, the
    areas' aFRR cost, the publication plot embedded."""
    from host.htmlpage import Page
    page = Page(f"aFRR market: {summary['world']} / {summary['scenario']}")
    u, a = summary["unit"], summary["unit"]["acceptance"]
    page.verdict(bool(a["passed"]), "%s hours from %s (UTC), seed %s; unit in %s: %d cycles "
                 "activated, %.3f kWh up, %.3f kWh down, revenue %.2f EUR; %s" % (
                     summary["hours"], summary["start_utc"], summary["seed"], u["area"],
                     u["cycles_activated"], u["energy_up_kwh"], u["energy_down_kwh"],
                     u["revenue_eur"], acceptance_line(a)))
    page.text("Prices: cbmp_last_cycle_eur_mwh is the cross-border marginal price of the last "
              "4 s cycle of a minute; cbmp_up/down_demand_weighted_eur_mwh are the cycles' "
              "prices averaged with the satisfied up/down demand as weights, not prices that "
              "cleared. The settlement pays each cycle's energy at that cycle's CBMP.",
              note=True)
    if settle:
        page.heading("Unit settlement per ISP")
        cols = list(settle[0])
        page.table(cols, [[r.get(c) for c in cols] for r in settle],
                   bad=lambda r: "acc_passed" in cols and not r[cols.index("acc_passed")])
    page.heading("aFRR energy cost per area (EUR)")
    page.table(("area", "EUR"), sorted(summary["area_afrr_cost_eur"].items()))
    page.heading("Plots")
    for p in plots:
        page.figure(out / p, "aFRR and IGCC per ISP, and the demand-weighted mean CBMP per "
                    "direction, per area")
    page.heading("Run")
    page.table(("field", "value"), [[k, v if not isinstance(v, dict) else json.dumps(v)]
                                    for k, v in summary.items() if k != "unit"])
    page.write(out / "report.html")


def main(args):
    from host.market.publication import (
        ISP_TABLE_COLUMNS,
        PUB_COLUMNS,
        area_energy_cost_eur,
        isp_table,
        plot,
        publication,
        settlement,
        write_csv,
    )
    from host.market.run import MarketRun
    run = MarketRun(args.market, args.scenario, seed=args.seed)
    hours = run.scenario.hours if args.hours is None else args.hours
    if not hours > 0:
        raise ValueError(f"--hours: must be > 0 (got {hours!r})")
    log = run.run(hours, progress=not args.quiet)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    isp_s = run.cfg.mtu_s
    rows = publication(log, isp_s)
    write_csv(out / "publication.csv", rows, PUB_COLUMNS)
    write_csv(out / "isp_energy.csv", isp_table(log, isp_s), ISP_TABLE_COLUMNS)
    acc = unit_acceptance(log, log.start_utc_s)
    settle = settlement(log, isp_s, extra=acceptance_per_isp(acc, log.start_utc_s))
    if settle:
        write_csv(out / "settlement.csv", settle)
    a = log.arrays()
    summary = {
        "market": run.cfg.path, "world": run.world.name, "scenario": run.scenario.name,
        "seed": run.seed, "hours": hours, "cycles": int(len(a["t_s"])),
        "free_capacity_kw": {f"{k[0]}-{k[1]}": v for k, v in run.caps_kw.items()},
        "start_utc": rows[0]["isp_start_utc"] if rows else None,
        "area_afrr_cost_eur": area_energy_cost_eur(log),
        "unit": {"area": run.unit.area,
                 "cycles_activated": int(np.count_nonzero(np.abs(a["unit_setpoint_kw"]) > 1e-6)),
                 "energy_up_kwh": float(sum(r["energy_up_kwh"] for r in settle)),
                 "energy_down_kwh": float(sum(r["energy_down_kwh"] for r in settle)),
                 "revenue_eur": float(sum(r["revenue_eur"] for r in settle)),
                 "acceptance": acceptance_summary(acc)},
        "price_split_cycles": int(np.count_nonzero(np.ptp(a["cbmp"], axis=1) > 1e-3))
        if len(a["t_s"]) else 0,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    plots = []
    if not args.no_plots and rows:
        plot(out / "publication.png", rows, f"{run.world.name} / {run.scenario.name}")
        plots.append("publication.png")
    html_report(summary, settle, out, plots)
    print(f"{len(rows)} publication rows, {len(settle)} ISPs settled -> {out}")
    print(json.dumps({k: v for k, v in summary["unit"].items() if k != "acceptance"}))
    print(acceptance_line(summary["unit"]["acceptance"]))
    return 0
