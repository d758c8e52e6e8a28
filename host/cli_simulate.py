# `python -m host simulate`: run a world's scenario, write CSV, PNG plots, metrics.json and
# report.html.
import json
import pathlib

import numpy as np

HELP = ("run the grid emulator on a world file and write CSV, plots, metrics.json and "
        "report.html")


def configure(p):
    p.add_argument("world", help="world TOML file, e.g. host/worlds/baltic.toml")
    p.add_argument("--scenario", default="quiet",
                   help="scenario name from the world file (default: quiet)")
    p.add_argument("--hours", type=float, default=None,
                   help="simulated hours (default: the scenario's 'hours', or the trace length)")
    p.add_argument("--out", default="out/simulate", help="output folder (default out/simulate)")
    p.add_argument("--seed", type=int, default=1, help="noise seed (default 1)")
    p.add_argument("--step-ms", type=int, default=100, help="integration step (default 100)")
    p.add_argument("--record-ms", type=int, default=1000,
                   help="CSV sample period (default 1000 ms)")
    p.add_argument("--trace", default=None,
                   help="replay this CSV (timestamp,hz or utc,f_hz) instead of a scenario")
    p.add_argument("--trace-until", default="",
                   help="with --trace: drop rows after this time (same format as the file)")
    p.add_argument("--no-netting", action="store_true", help="switch IGCC netting off")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _col(rec, prefix, area):
    return rec["data"][:, rec["columns"].index("%s_%s" % (prefix, area))]


def metrics(sim, rec, wall_s):
    w = sim.world
    from host.metrics import elia_minute_table, frce_quality, frequency_quality, isp_energy
    t = rec["data"][:, 0]
    dt_rec = float(t[1] - t[0]) if len(t) > 1 else 1.0
    t_start = t - dt_rec   # a row is recorded at the end of the interval it stands for
    out = {"world": w.name, "scenario": sim.scenario.name, "seed": sim.seed,
           "step_ms": sim.step_ms, "sim_seconds": float(sim.t_ms / 1000.0),
           "wall_seconds": wall_s,
           "sim_seconds_per_wall_second": float(sim.t_ms / 1000.0 / wall_s) if wall_s else None,
           "netting": bool(sim.lfc.netting), "areas": {}}
    elia = {}
    for i, a in enumerate(w.areas):
        ace = _col(rec, "ace_mw", a.name)
        afrr = _col(rec, "afrr_mw", a.name)
        igcc = _col(rec, "igcc_mw", a.name)
        isp = isp_energy(t_start, afrr, w.isp_s, igcc_export_mw=igcc)
        out["areas"][a.name] = {
            "frequency_annex3": frequency_quality(rec["df_hz"][:, i], rec["dt_s"]),
            "frce_art128": frce_quality(ace, dt_rec, a.frce_l1_mw, a.frce_l2_mw),
            "afrr_up_mwh": float(sum(r["afrr_up_mwh"] for r in isp)),
            "afrr_down_mwh": float(sum(r["afrr_down_mwh"] for r in isp)),
            "igcc_import_mwh": float(sum(r["igcc_in_mwh"] for r in isp)),
            "igcc_export_mwh": float(sum(r["igcc_out_mwh"] for r in isp)),
            "isp_energy": isp,
        }
        elia[a.name] = elia_minute_table(t_start, ace, afrr, igcc, w.isp_s)
    return out, elia


def _envelope_mhz(rec, n_rows):
    """Per recorded row and area: (min, max) frequency deviation in mHz over the native steps
    of the row's interval, or None when the native series does not split evenly."""
    df = np.asarray(rec["df_hz"])
    if n_rows == 0 or len(df) % n_rows:
        return None
    per = df.reshape(n_rows, len(df) // n_rows, df.shape[1]) * 1000.0
    return per.min(axis=1), per.max(axis=1)


def _plots(sim, rec, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from host.metrics.utc import DEFAULT_START_UTC_S
    from host.timeaxis import utc_axis
    t = rec["data"][:, 0]  # s since the start, at the end of each recorded interval
    span = float(t[-1]) if len(t) else 1.0
    names = sim.names
    panels = [("frequency.png", "frequency deviation (mHz)", "df_mhz", names),
              ("ace.png", "ACE per area (MW, + = surplus)", "ace_mw", names),
              ("ties.png", "AC tie flows (MW, a -> b)", "tie_mw", sim.tie_names),
              ("afrr.png", "aFRR delivered by providers (MW, + = upward)", "afrr_mw", names),
              ("netting.png", "IGCC netting exchange (MW, + = export)", "igcc_mw", names)]
    env = _envelope_mhz(rec, len(t))
    files = []
    for fname, title, prefix, keys in panels:
        fig, ax = plt.subplots(figsize=(10, 4))
        for i, k in enumerate(keys):
            line, = ax.plot(t, _col(rec, prefix, k), lw=0.8, label=k)
            if prefix == "df_mhz" and env is not None:  # true extremes between the samples
                ax.fill_between(t, env[0][:, i], env[1][:, i], step="pre", lw=0, alpha=0.3,
                                color=line.get_color())
        if prefix == "df_mhz":
            lo = min(float(np.min(env[0])) if env is not None else 0.0, -50.0)
            hi = max(float(np.max(env[1])) if env is not None else 0.0, 50.0)
            for d, ls in ((50, "--"), (200, ":")):
                if d == 50 or min(lo, -hi) < -50:
                    ax.axhline(d, color="0.3", lw=0.8, ls=ls, label="+-%d mHz" % d)
                    ax.axhline(-d, color="0.3", lw=0.8, ls=ls)
            title += ", band = min..max over every emulator step"
        ax.set_title("%s: %s, scenario %s" % (title, sim.world.name, sim.scenario.name),
                     fontsize=10)
        utc_axis(ax, DEFAULT_START_UTC_S, span)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=100)
        plt.close(fig)
        files.append(fname)
    return files


def _flat(d, prefix=""):
    """[key, value] rows of a nested dict of numbers (lists are counted, not listed)."""
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += _flat(v, prefix + k + ".")
        elif isinstance(v, list):
            rows.append([prefix + k, "%d rows" % len(v)])
        else:
            rows.append([prefix + k, v])
    return rows


def html_report(m, out, plots):
    """report.html beside the CSV files: run facts, per-area metrics, every plot embedded."""
    from host.htmlpage import Page
    from host.metrics.utc import DEFAULT_START_ISO
    page = Page("Grid emulator: %s / %s" % (m["world"], m["scenario"]))
    page.text("%.0f s simulated from %s (UTC) at a %d ms step, seed %d, IGCC netting %s; "
              "%.0f simulated seconds per wall second." % (
                  m["sim_seconds"], DEFAULT_START_ISO, m["step_ms"], m["seed"],
                  "on" if m["netting"] else "off", m["sim_seconds_per_wall_second"] or 0))
    for area, a in m["areas"].items():
        page.heading("Area %s" % area)
        page.table(("metric", "value"), _flat(a))
    page.heading("Plots")
    for p in plots:
        page.figure(out / p, p[:-4])
    page.text("Files beside this page: metrics.json, %s." % ", ".join(m["files"]), note=True)
    page.write(out / "report.html")


def main(args):
    from tqdm import tqdm

    from host.grid import load_world
    from host.grid.run import run_scenario
    from host.metrics.energy import ELIA_COLUMNS
    world = load_world(args.world)
    if args.trace:
        from host.grid.world import Scenario
        world.scenarios["trace"] = Scenario(name="trace", description="replay of %s"
                                            % args.trace, trace=args.trace,
                                            trace_until=args.trace_until)
        args.scenario = "trace"
    if args.scenario not in world.scenarios:
        raise ValueError("%s: scenario: unknown %r (known: %s)"
                         % (args.world, args.scenario, ", ".join(world.scenarios)))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(unit="sim s", disable=args.quiet, dynamic_ncols=True)
    try:
        sim, rec, wall = run_scenario(world, args.scenario, hours=args.hours, seed=args.seed,
                                      step_ms=args.step_ms, record_ms=args.record_ms,
                                      netting=not args.no_netting, progress=bar.update,
                                      on_start=lambda s: bar.reset(total=round(s)))
    finally:
        bar.close()
    csv_path = out / "timeseries.csv"
    np.savetxt(csv_path, rec["data"], delimiter=",", fmt="%.6g",
               header=",".join(rec["columns"]), comments="")
    m, elia = metrics(sim, rec, wall)
    for area, rows in elia.items():
        with open(out / ("elia_minutes_%s.csv" % area), "w") as fh:
            fh.write(",".join(ELIA_COLUMNS) + "\n")
            for r in rows:
                fh.write(",".join(r[c] if isinstance(r[c], str) else "%.6g" % r[c]
                                  for c in ELIA_COLUMNS) + "\n")
    m["files"] = ["timeseries.csv"] + ["elia_minutes_%s.csv" % a for a in elia]
    plots = [] if args.no_plots else _plots(sim, rec, out)
    m["files"] += plots + ["report.html"]
    html_report(m, out, plots)
    (out / "metrics.json").write_text(json.dumps(m, indent=1))
    print("%s / %s: %.0f sim s in %.1f s wall (%.0f sim s per s); results in %s"
          % (world.name, sim.scenario.name, sim.t_ms / 1000.0, wall,
             sim.t_ms / 1000.0 / max(wall, 1e-9), out))
    return 0
