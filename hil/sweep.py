# Sweeps: one scenario run over a grid of parameters (config fields, scenario keys, world
# parameters, seeds), in parallel on a local process pool or a Dask cluster; one table out.
#
# A sweep file (TOML):
#   [sweep]
#   scenario = "hil/scenarios/default.toml"   # the HIL scenario every point starts from
#   target = "cpython"          # cpython: emulator-only, the firmware's modules in-process;
#                               # unix: the rig, one MicroPython firmware process per run
#   metrics = ["energy_up_kwh", "acceptance_passed"]   # summary.json keys to collect
#   duration_s = 900            # optional: overrides [scenario] duration_s
#   [axes]                      # the product of the axes is the set of points
#   "unit.kp_q15" = [3277, 6554]
#   "scenario.seed" = [1, 2]
#   "world.areas.LT.k_mw_per_hz" = [78.0, 120.0]   # a key of the world file
#   [[points]]                  # or (instead of, or besides, [axes]) listed points
#   "unit.kp_q15" = 9830
#   [plot]
#   heatmap = { x = "unit.kp_q15", y = "unit.ti_s", metric = "energy_up_kwh" }
#   distribution = "energy_up_kwh"   # over the seeds of each other combination
#
# Parameter names are "<table>.<key>" of the scenario file (unit, scenario, grid, plant, link,
# remote) or "world.<path>" into the world TOML. Each point is one ordinary rig run
# (hil.runner.Run), so a sweep's row holds exactly what summary.json would.
#
# Reproducible: a point's run depends only on the sweep file and its parameter values (seeds
# are parameters), never on which worker ran it or when, and the table is written in point
# order with no wall-clock column: the same sweep gives the same table on a pool and on Dask.
# Nothing lost: every finished point is appended to results.csv at once; a failed run is a row
# with its error; `--resume` skips the points already in results.csv with status ok.
# A worker that dies (killed, out of memory): on the local pool the points lost with it are run
# again one at a time, and one that dies alone too is reported as a failed row; on Dask the
# scheduler reruns a point on another worker (up to distributed.scheduler.allowed-failures,
# default 3), then it is reported likewise.
import csv
import hashlib
import itertools
import json
import math
import pathlib
import tomllib

from hil.scenario import METRICS, ROOT, ScenarioError

TARGETS = ("cpython", "unix")
TABLES = ("scenario", "grid", "plant", "link", "remote", "unit", "market")
FIXED = ("point", "point_id", "status", "error", "passed")
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
WORKER_LOST = "worker died (process killed or crashed), also when run alone"


class SweepError(Exception):
    """A bad sweep file or output folder: one line."""


class Sweep:
    def __init__(self, path, scenario, target, metrics, points, names, duration_s, plot):
        self.path = path
        self.scenario = scenario
        self.target = target
        self.metrics = metrics
        self.points = points  # list of dicts name -> value, in table order
        self.names = names  # parameter names, column order
        self.duration_s = duration_s
        self.plot = plot


def _fail(path, where, msg):
    raise SweepError("%s: %s: %s" % (path, where, msg))


def _check_name(path, name):
    head = name.split(".", 1)[0]
    if "." not in name or head not in TABLES + ("world",):
        _fail(path, name, "a parameter is <table>.<key> with table one of %s, or world.<path>"
              % ", ".join(TABLES))


def load(path):
    """Read and validate a sweep file; SweepError naming the file and the key if bad."""
    path = pathlib.Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise SweepError("%s: cannot read (%s)" % (path, e.strerror or e))
    except tomllib.TOMLDecodeError as e:
        raise SweepError("%s: not valid TOML: %s" % (path, e))
    for t in data:
        if t not in ("sweep", "axes", "points", "plot"):
            _fail(path, "[%s]" % t, "unknown table (known: sweep, axes, points, plot)")
    sw = data.get("sweep")
    if not isinstance(sw, dict):
        _fail(path, "[sweep]", "table missing")
    for k in sw:
        if k not in ("scenario", "target", "metrics", "duration_s"):
            _fail(path, "[sweep] " + k, "unknown key (known: scenario, target, metrics, "
                  "duration_s)")
    sc = sw.get("scenario")
    if not isinstance(sc, str):
        _fail(path, "[sweep] scenario", "must name a scenario file")
    sc_path = pathlib.Path(sc)
    if not sc_path.is_absolute():
        sc_path = sc_path if sc_path.exists() else ROOT / sc_path
    target = sw.get("target", "cpython")
    if target not in TARGETS:
        _fail(path, "[sweep] target", "must be one of %s" % ", ".join(TARGETS))
    metrics = sw.get("metrics", ["passed"])
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str)
                                                               for m in metrics):
        _fail(path, "[sweep] metrics", "must be a list of summary metric names")
    for m in metrics:
        if m not in METRICS and m != "passed":
            _fail(path, "[sweep] metrics", "unknown metric %r (see hil/README.md)" % m)
    dur = sw.get("duration_s")
    if dur is not None and (not isinstance(dur, int) or isinstance(dur, bool) or dur < 4):
        _fail(path, "[sweep] duration_s", "must be a whole number of seconds >= 4")
    axes = data.get("axes", {})
    if not isinstance(axes, dict):
        _fail(path, "[axes]", "must be a table of name = [values]")
    for name, values in axes.items():
        _check_name(path, name)
        if not isinstance(values, list) or not values:
            _fail(path, "[axes] " + name, "must be a non-empty list of values")
    listed = data.get("points", [])
    if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
        _fail(path, "[[points]]", "must be an array of tables")
    for i, p in enumerate(listed):
        for name in p:
            _check_name(path, name)
    names = list(axes)
    for p in listed:
        names += [n for n in p if n not in names]
    points = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())] \
        if axes else []
    points += [dict(p) for p in listed]
    if not points:
        _fail(path, "[axes]", "no points: give [axes] or [[points]]")
    plot = data.get("plot", {})
    if not isinstance(plot, dict):
        _fail(path, "[plot]", "must be a table")
    hm = plot.get("heatmap")
    if hm is not None:
        if not isinstance(hm, dict) or set(hm) != {"x", "y", "metric"}:
            _fail(path, "[plot] heatmap", "must be { x = AXIS, y = AXIS, metric = NAME }")
        for k in ("x", "y"):
            if hm[k] not in axes:
                _fail(path, "[plot] heatmap", "%s = %r is not an axis" % (k, hm[k]))
        if hm["metric"] not in metrics:
            _fail(path, "[plot] heatmap", "metric %r is not in [sweep] metrics" % hm["metric"])
    dist = plot.get("distribution")
    if dist is not None and dist not in metrics:
        _fail(path, "[plot] distribution", "metric %r is not in [sweep] metrics" % dist)
    return Sweep(path, sc_path, target, metrics, points, names, dur, plot)


def point_id(params):
    """A stable id of a point's parameter values (resume matches on it)."""
    text = json.dumps(sorted(params.items()), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _set_path(data, keys, value, where):
    node = data
    for k in keys[:-1]:
        if isinstance(node, list):
            try:
                node = node[int(k)]
            except (ValueError, IndexError):
                raise ScenarioError("%s: no list index %r" % (where, k))
            continue
        if not isinstance(node, dict) or k not in node:
            raise ScenarioError("%s: no key %r in the world file" % (where, k))
        node = node[k]
    last = keys[-1]
    if isinstance(node, list):
        try:
            node[int(last)] = value
        except (ValueError, IndexError):
            raise ScenarioError("%s: no list index %r" % (where, last))
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError("%s: not a table" % where)


def build_scenario(sweep_path, scenario_path, params, duration_s=None):
    """The scenario of one point: the base file with the point's parameters applied."""
    from hil import scenario as hs
    try:
        base = tomllib.loads(pathlib.Path(scenario_path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ScenarioError("%s: cannot read %s (%s)" % (sweep_path, scenario_path, e))
    if duration_s is not None:
        base.setdefault("scenario", {})["duration_s"] = duration_s
    world = {}
    for name, value in params.items():
        table, key = name.split(".", 1)
        if table == "world":
            world[key] = value
        else:
            base.setdefault(table, {})[key] = value
    sc = hs.from_data(scenario_path, base)
    if world:
        from host.grid.world import world_from_dict
        text = sc.world_path.read_text()
        data = tomllib.loads(text)
        for key, value in world.items():
            _set_path(data, key.split("."), value, "%s: world.%s" % (sweep_path, key))
        sc.world = world_from_dict(data, sc.world_path, text)
    return sc


def _clean(v):
    """A table cell: numbers and strings as they are, NaN as empty, anything else as JSON."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    return json.dumps(v, sort_keys=True)


def run_point(task):
    """Run one point (in a worker): returns its row. Never raises for a failed run."""
    from hil.runner import Run, RunError, summarize
    idx, params, spec = task
    row = {"point": idx, "point_id": point_id(params), **params}
    try:
        sc = build_scenario(spec["sweep"], spec["scenario"], params, spec["duration_s"])
        run = Run(sc, target=spec["target"], progress=False)
        run.execute()
        summary, acc = summarize(run)
        if spec["reports"]:
            from hil import report
            out = pathlib.Path(spec["reports"]) / ("%04d-%s" % (idx, row["point_id"]))
            report.write(run, summary, acc, out)
        row.update(status="ok", error="", passed=bool(summary["passed"]))
        for m in spec["metrics"]:
            if m != "passed":
                row[m] = _clean(summary.get(m))
    except (ScenarioError, RunError) as e:
        row.update(status="error", error=str(e), passed=False)
    except Exception as e:  # a run that crashed is a row, never a lost sweep
        row.update(status="error", error="%s: %s" % (type(e).__name__, e), passed=False)
    return row


# -- executors: a local process pool or a Dask cluster; each yields rows as points finish --------
def _pool_rows(tasks, fn, jobs):
    """Rows from a local process pool. When a worker dies, every point in flight on that pool
    is lost with it; each is then run again alone, so a second death is that point's own and
    it is reported as a failed row."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    lost = []
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        futs = {ex.submit(fn, t): t for t in tasks}
        for f in as_completed(futs):
            try:
                yield f.result()
            except BrokenProcessPool:
                lost.append(futs[f])
    for t in sorted(lost, key=lambda t: t[0]):
        with ProcessPoolExecutor(max_workers=1) as ex:
            try:
                yield ex.submit(fn, t).result()
            except BrokenProcessPool:
                yield _lost_row(t)


def _lost_row(task, error=WORKER_LOST):
    idx, params, _spec = task
    return {"point": idx, "point_id": point_id(params), **params, "status": "error",
            "error": error, "passed": False}


def _dask_rows(tasks, fn, client):
    """Rows from a Dask cluster: the scheduler reruns a task whose worker died (up to its
    allowed-failures); a task that still fails is reported as a failed row."""
    from distributed import as_completed
    futs = {}
    for t in tasks:
        # pure=False: a point is run, not looked up in a cache of earlier results
        futs[client.submit(fn, t, pure=False, key="afrr-point-%d-%s" % (t[0], point_id(t[1])))] = t
    for f in as_completed(list(futs)):
        t = futs[f]
        try:
            row = f.result()
        except Exception as e:  # KilledWorker (died on every allowed try) and the like
            row = _lost_row(t, "%s: %s" % (type(e).__name__, e))
        yield row


# -- the table -----------------------------------------------------------------------------------
def columns(sweep):
    return list(FIXED[:2]) + sweep.names + list(FIXED[2:]) + [m for m in sweep.metrics
                                                               if m != "passed"]


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _typed(sweep, rows):
    """Rows read back from CSV with the parameter and metric types restored."""
    out = []
    for r in rows:
        d = {}
        for k, v in r.items():
            if k in ("status", "error", "point_id"):
                d[k] = v
            elif v == "":
                d[k] = None
            elif k == "passed":
                d[k] = v == "True"
            else:
                try:
                    d[k] = json.loads(v)
                except ValueError:
                    d[k] = v
        out.append(d)
    return out


def _cell(v):
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    return json.dumps(v)


def write_tables(sweep, rows, out):
    """results.csv and results.parquet in point order (rewritten whole at the end)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    cols = columns(sweep)
    rows = sorted(rows, key=lambda r: r["point"])
    tmp = out / (RESULTS_CSV + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
    tmp.replace(out / RESULTS_CSV)
    table = {}
    for c in cols:
        vals = [r.get(c) for r in rows]
        kinds = {type(v) for v in vals if v is not None}
        if kinds == {int, float}:
            vals = [None if v is None else float(v) for v in vals]
        elif len(kinds) > 1:
            vals = [None if v is None else str(v) for v in vals]
        table[c] = vals
    pq.write_table(pa.table(table), out / RESULTS_PARQUET)
    return rows


def _axis_values(values):
    """Distinct values in order: numerically when all are numbers, else as text."""
    vals = set(values)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return sorted(vals)
    return sorted(vals, key=str)


def _plots(sweep, rows, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []
    ok = [r for r in rows if r["status"] == "ok"]
    hm = sweep.plot.get("heatmap")
    if hm and ok:
        xs = _axis_values(r[hm["x"]] for r in ok)
        ys = _axis_values(r[hm["y"]] for r in ok)
        grid = [[[] for _ in xs] for _ in ys]
        for r in ok:
            v = r.get(hm["metric"])
            if isinstance(v, (int, float)):
                grid[ys.index(r[hm["y"]])][xs.index(r[hm["x"]])].append(float(v))
        z = [[sum(c) / len(c) if c else float("nan") for c in row] for row in grid]
        fig, ax = plt.subplots(figsize=(6, 4.5))
        im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_yticks(range(len(ys)), [str(y) for y in ys])
        ax.set_xlabel(hm["x"])
        ax.set_ylabel(hm["y"])
        for i, row in enumerate(z):
            for j, v in enumerate(row):
                if not math.isnan(v):
                    ax.text(j, i, "%.4g" % v, ha="center", va="center", fontsize=8,
                            color="k", bbox={"facecolor": "w", "alpha": 0.7, "lw": 0})
        fig.colorbar(im, ax=ax, label=hm["metric"] + " (mean over other axes)")
        ax.set_title("%s over %s x %s" % (hm["metric"], hm["x"], hm["y"]))
        fig.tight_layout()
        fig.savefig(out / "heatmap.png", dpi=110)
        plt.close(fig)
        made.append("heatmap.png")
    dist = sweep.plot.get("distribution")
    if dist and ok:
        others = [n for n in sweep.names if n != "scenario.seed"]
        groups = {}
        for r in ok:
            v = r.get(dist)
            if isinstance(v, (int, float)):
                key = ", ".join("%s=%s" % (n.split(".")[-1], r.get(n)) for n in others) or "all"
                groups.setdefault(key, []).append(float(v))
        if groups:
            keys = sorted(groups)
            fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(keys) + 2), 4.5))
            ax.boxplot([groups[k] for k in keys])
            for i, k in enumerate(keys):
                ax.plot([i + 1] * len(groups[k]), groups[k], "o", ms=3, alpha=0.6, color="C1")
            ax.set_xticks(range(1, len(keys) + 1), keys, rotation=30, ha="right", fontsize=7)
            ax.set_ylabel(dist)
            ax.set_title("%s over seeds (each box: one parameter combination)" % dist)
            fig.tight_layout()
            fig.savefig(out / "distribution.png", dpi=110)
            plt.close(fig)
            made.append("distribution.png")
    return made


def run(sweep, out, jobs=1, dask=None, resume=False, keep_reports=False, progress=True,
        fn=run_point):
    """Run every point not yet done; returns the rows of the whole table in point order.

    `dask`: a scheduler address, or a distributed.Client; else a local pool of `jobs`.
    `fn`: the function run per point (tests inject one); it takes (idx, params, spec).
    """
    out = pathlib.Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SweepError("cannot create %s (%s)" % (out, e.strerror or e))
    done = []
    live = out / RESULTS_CSV
    if live.exists():
        if not resume:
            raise SweepError("%s already has %s: add --resume to skip its finished points, "
                             "or give another --out" % (out, RESULTS_CSV))
        try:
            done = _typed(sweep, _read_csv(live))
        except (OSError, csv.Error, ValueError) as e:
            raise SweepError("%s: cannot read (%s)" % (live, e))
        if done and set(done[0]) != set(columns(sweep)):
            raise SweepError("%s was written by another sweep (its columns differ)" % live)
    ok_ids = {r["point_id"] for r in done if r.get("status") == "ok"}
    done = [r for r in done if r["point_id"] in ok_ids]
    spec = {"sweep": str(sweep.path), "scenario": str(sweep.scenario), "target": sweep.target,
            "metrics": sweep.metrics, "duration_s": sweep.duration_s,
            "reports": str(out / "runs") if keep_reports else None}
    by_id = {r["point_id"]: r for r in done}
    tasks = []
    for i, p in enumerate(sweep.points):
        pid = point_id(p)
        if pid in by_id:
            by_id[pid]["point"] = i
        else:
            tasks.append((i, p, spec))
    rows = list(done)
    cols = columns(sweep)
    bar = None
    if progress and tasks:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), unit="run", desc=sweep.path.stem, leave=False,
                   dynamic_ncols=True)
    client, own = None, False
    try:
        if tasks and dask is not None:
            from distributed import Client
            if isinstance(dask, str):
                client, own = Client(dask, timeout="20s"), True
            else:
                client = dask
            source = _dask_rows(tasks, fn, client)
        elif tasks and jobs > 1:
            source = _pool_rows(tasks, fn, jobs)
        else:
            source = (fn(t) for t in tasks)
        new = not live.exists() or live.stat().st_size == 0
        with open(live, "a", newline="") as f:  # every finished point is kept at once
            w = csv.writer(f, lineterminator="\n")
            if new:
                w.writerow(cols)
            for row in source:
                rows.append(row)
                w.writerow([_cell(row.get(c)) for c in cols])
                f.flush()
                if bar is not None:
                    bar.update(1)
    except OSError as e:
        raise SweepError("cannot reach the Dask scheduler %s (%s)" % (dask, e))
    finally:
        if bar is not None:
            bar.close()
        if own:
            client.close()
    rows = write_tables(sweep, rows, out)
    _plots(sweep, rows, out)
    return rows


def main(args):
    """`python -m hil sweep`: exit 0 when every point ran, 1 when a point failed to run."""
    sweep = load(args.sweep_file)
    if args.jobs < 1:
        raise SweepError("--jobs must be >= 1")
    rows = run(sweep, args.out, jobs=args.jobs, dask=args.dask, resume=args.resume,
               keep_reports=args.keep_reports, progress=not args.no_progress)
    errors = [r for r in rows if r["status"] != "ok"]
    passed = sum(1 for r in rows if r.get("passed"))
    print("%d points: %d ran, %d failed to run, %d passed their criteria; table: %s" % (
        len(rows), len(rows) - len(errors), len(errors), passed,
        pathlib.Path(args.out) / RESULTS_CSV))
    for r in errors[:5]:
        print("  point %d (%s): %s" % (r["point"], r["point_id"], r["error"]))
    return 1 if errors else 0
