"""`python -m host capacity trm|fslimit`: TRM from flow data; LT-PL frequency-stability limit."""
import json
import sys

HELP = ("cross-zonal capacity: 'trm FLOWS.csv' (monthly TRM per border and direction) or "
        "'fslimit WORLD.toml' (frequency-stability limit of a border by islanding runs)")


def _area_mw(text):
    """'LT=200,EE=50' -> {'LT': 200.0, 'EE': 50.0}"""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValueError(f"expected AREA=MW, got {part!r}")
        a, v = part.split("=", 1)
        out[a.strip()] = float(v)
    return out


def configure(p):
    sub = p.add_subparsers(dest="capacity_command", metavar="WHAT")
    sub.required = True
    t = sub.add_parser("trm", help="monthly TRM per border and direction from planned vs "
                                   "actual flows (baltic-lt-ccm-explanatory-note)",
                       description="Monthly TRM: mean + one standard deviation of the hourly "
                                   "netted flow deviations of the last 12 months, per border "
                                   "and direction; 50 MW in the first month without data. "
                                   "CSV columns: timestamp,border,planned_mw,actual_mw.")
    t.add_argument("flows", help="CSV: timestamp,border,planned_mw,actual_mw (ISO 8601 UTC)")
    t.add_argument("--month", default=None, help="print only this month (YYYY-MM)")
    t.add_argument("--out", default=None, help="also write the schedule as CSV here")
    f = sub.add_parser("fslimit", help="frequency-stability limit by bisection over emulator "
                                       "runs of the islanded Baltic block",
                       description="Largest exchange over a border at which islanding keeps "
                                   "the centre-of-inertia frequency inside the nadir/zenith "
                                   "and RoCoF limits (host/capacity/fslimit.py).")
    f.add_argument("world", help="emulator world TOML, e.g. host/worlds/baltic.toml")
    f.add_argument("--area", default="LT", help="island area at the lost border (default LT)")
    f.add_argument("--island", default="LT,LV,EE", help="island areas (default LT,LV,EE)")
    f.add_argument("--direction", choices=("import", "export", "both"), default="both")
    f.add_argument("--max-dev-mhz", type=float, default=800.0,
                   help="nadir/zenith limit, mHz (default 800, SO GL Annex III)")
    f.add_argument("--rocof", type=float, default=1.0, help="RoCoF limit Hz/s (default 1.0, "
                                                            "assumed)")
    f.add_argument("--rocof-window-s", type=float, default=0.5, help="RoCoF window (0.5 s)")
    f.add_argument("--inertia-scale", type=float, default=1.0)
    f.add_argument("--fcr-scale", type=float, default=1.0)
    f.add_argument("--battery-mw", default="", help="free battery capacity, e.g. LT=200")
    f.add_argument("--hvdc-headroom-mw", default="", help="free HVDC capacity, e.g. LT=100")
    f.add_argument("--upper-mw", type=float, default=2000.0, help="search range top (2000)")
    f.add_argument("--tol-mw", type=float, default=1.0, help="bisection tolerance (1 MW)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")


def _trm(args):
    from host.capacity.trm import read_flows, trm_by_month
    rows = trm_by_month(read_flows(args.flows))
    if args.month:
        rows = [r for r in rows if r["month"] == args.month]
        if not rows:
            raise ValueError(f"--month: no schedule row for {args.month!r}")
    cols = ["month", "border", "trm_ab_mw", "trm_ba_mw", "hours", "rule"]
    print(",".join(cols))
    for r in rows:
        print(",".join(str(r[c]) for c in cols))
    if args.out:
        from host.market.publication import write_csv
        write_csv(args.out, rows, cols)
    return 0


def _fslimit(args):
    from host.capacity.fslimit import FsCriteria, FsResources, fs_limit
    from host.grid import load_world
    world = load_world(args.world)
    res = FsResources(inertia_scale=args.inertia_scale, fcr_scale=args.fcr_scale,
                      battery_mw=_area_mw(args.battery_mw),
                      hvdc_headroom_mw=_area_mw(args.hvdc_headroom_mw))
    crit = FsCriteria(max_dev_mhz=args.max_dev_mhz, rocof_hz_s=args.rocof,
                      rocof_window_s=args.rocof_window_s)
    island = tuple(a.strip() for a in args.island.split(",") if a.strip())
    dirs = ("import", "export") if args.direction == "both" else (args.direction,)
    bar = None
    if not args.quiet:
        from tqdm import tqdm
        est = len(dirs) * (3 + int(max(1, args.upper_mw / args.tol_mw)).bit_length())
        bar = tqdm(total=est, desc="islanding runs", unit="run", file=sys.stderr)
    out = {}
    for d in dirs:
        out[d] = fs_limit(world, args.area, d, island, res, crit, args.upper_mw, args.tol_mw,
                          progress=(bar.update if bar else None))
    if bar:
        bar.close()
    print(json.dumps(out, indent=1))
    return 0


def main(args):
    return _trm(args) if args.capacity_command == "trm" else _fslimit(args)
