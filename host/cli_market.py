"""`python -m host market`: run a market scenario over the emulator; publication + settlement."""
import json
import pathlib

import numpy as np

HELP = ("run the aFRR balancing market (PICASSO-style activation, IGCC netting, the unit as a "
        "BSP) over the grid emulator; write the per-minute publication, settlement and plot")


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


def acceptance_per_isp(log, isp_s, band_kw):
    """The metrics issue's acceptance channel on the unit's 1 s set-point/delivered series
    (each 4 s cycle held), judged per ISP. {isp_start_s: {...}}; {} without cycles or band."""
    from host.metrics import acceptance_channel
    a = log.arrays()
    if not len(a["t_s"]) or band_kw <= 0:
        return {}
    rep = int(round(log.cycle_s))
    sp = np.repeat(a["unit_setpoint_kw"], rep)
    de = np.repeat(a["unit_delivered_kw"], rep)
    t = np.repeat(a["t_s"], rep) + np.tile(np.arange(rep), len(a["t_s"]))
    out = {}
    for q in np.unique(np.floor(t / isp_s) * isp_s):
        sel = (t >= q) & (t < q + isp_s)
        r = acceptance_channel(sp[sel], de[sel], band_kw)
        out[float(q)] = {"acc_share_inside": round(r["share_inside"], 4),
                         "acc_share_under": round(r["share_under"], 4),
                         "acc_passed": r["passed"]}
    return out


def main(args):
    from host.market.publication import (
        PUB_COLUMNS,
        area_energy_cost_eur,
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
    band = max(run.unit.up_mw, run.unit.down_mw) * 1000.0
    settle = settlement(log, isp_s, extra=acceptance_per_isp(log, isp_s, band))
    if settle:
        write_csv(out / "settlement.csv", settle)
    a = log.arrays()
    summary = {
        "market": run.cfg.path, "world": run.world.name, "scenario": run.scenario.name,
        "seed": run.seed, "hours": hours, "cycles": int(len(a["t_s"])),
        "free_capacity_kw": {f"{k[0]}-{k[1]}": v for k, v in run.caps_kw.items()},
        "area_afrr_cost_eur": area_energy_cost_eur(rows, isp_s),
        "unit": {"area": run.unit.area,
                 "cycles_activated": int(np.count_nonzero(np.abs(a["unit_setpoint_kw"]) > 1e-6)),
                 "energy_up_kwh": float(sum(r["energy_up_kwh"] for r in settle)),
                 "energy_down_kwh": float(sum(r["energy_down_kwh"] for r in settle)),
                 "revenue_eur": float(sum(r["revenue_eur"] for r in settle))},
        "price_split_cycles": int(np.count_nonzero(np.ptp(a["cbmp"], axis=1) > 1e-3))
        if len(a["t_s"]) else 0,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if not args.no_plots and rows:
        plot(out / "publication.png", rows, f"{run.world.name} / {run.scenario.name}")
    print(f"{len(rows)} publication rows, {len(settle)} ISPs settled -> {out}")
    print(json.dumps(summary["unit"]))
    return 0
