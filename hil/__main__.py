# `python -m hil`: run a HIL scenario against the firmware; print the register map.
import argparse
import pathlib
import sys

from hil import report
from hil.runner import Run, RunError, summarize
from hil.scenario import ScenarioError, load


def _run(args):
    sc = load(args.scenario)
    try:  # fail before the run, not after it
        pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError("cannot create the report folder %s (%s)" % (args.out, e.strerror or e))
    if args.target not in ("unix", "cpython", "qemu") and not args.target.startswith("serial:"):
        raise RunError("--target must be unix, cpython, qemu or serial:PATH "
                       "(e.g. serial:/dev/ttyUSB0)")
    if args.baud is not None and not 1200 <= args.baud <= 4000000:
        raise RunError("--baud must be in 1200..4000000")
    run = Run(sc, target=args.target, baud=args.baud, realtime=args.realtime,
              progress=not args.no_progress, heapsize=args.heapsize,
              source=args.from_source, key_file=args.key)
    run.execute()
    summary, acc = summarize(run)
    report.write(run, summary, acc, args.out)
    print(report.terminal_table(summary, args.out))
    return 0 if summary["passed"] else 1


def _keygen(args):
    from hil.auth import keygen
    if not 1 <= args.id <= 65535:
        raise RunError("--id must be in 1..65535")
    if pathlib.Path(args.file).exists():
        raise RunError("%s exists: a unit's key is not overwritten" % args.file)
    try:
        keygen(args.file, args.id)
    except OSError as e:
        raise RunError("cannot write %s (%s)" % (args.file, e.strerror or e))
    print("key %d written to %s (owner-only); deploy it with make deploy KEY=%s"
          % (args.id, args.file, args.file))
    return 0


def _regmap(args):
    from afrr import regmap
    from hil import regcodec
    if args.markdown:
        from hil import regdoc
        sys.stdout.write(regdoc.markdown())
    else:
        for row in regmap.HOLDING:
            print("holding 0x%04X %s" % (row[0], row[1]))
        for row in regmap.INPUT:
            print("input   0x%04X %s" % (row[0], row[1]))
        for row in regcodec.config_fields():
            print("holding 0x%04X cfg.%s" % (row[0], row[1]))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m hil", description="afrrbox serial HIL rig")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a scenario against the firmware and write a report")
    r.add_argument("scenario", help="scenario TOML file, e.g. hil/scenarios/default.toml")
    r.add_argument("--target", default="unix",
                   help="unix (spawn the firmware on the MicroPython Unix port behind a pty) "
                        "or serial:PATH (the serial adapter on a board's Modbus UART, e.g. "
                        "serial:/dev/ttyUSB0), or cpython (the firmware's modules in this "
                        "process, no link: fast, for sweeps), or qemu (the firmware frozen into "
                        "MicroPython's qemu port on an emulated Cortex-M3, built by "
                        "`make micropython`)")
    r.add_argument("--baud", type=int, default=None,
                   help="line rate (default: the scenario's); with --target unix the proxy "
                        "emulates a half-duplex UART at this rate")
    r.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                   help="the firmware runs on its own clock; the rig paces to the wall clock "
                        "(default: the scenario's [scenario] realtime, else lock-step)")
    r.add_argument("--out", default="out/run", help="report folder (default out/run)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--heapsize", default=None,
                   help="unix: the Unix port's heap, e.g. 64k (-X heapsize); qemu: the heap left "
                        "free to the firmware at its start (a ballast takes the rest)")
    r.add_argument("--from-source", action="store_true",
                   help="unix target: run firmware/main.py and its modules from source instead "
                        "of the mpy-cross build of the unix board (what a board runs); for "
                        "debugging: the Unix port then compiles them, which costs heap")
    r.add_argument("--key", default=None, metavar="FILE",
                   help="the unit's key file (as deployed with make deploy KEY=FILE): set-points, "
                        "mode and configuration go as signed commands")
    k = sub.add_parser("keygen", help="write a new random unit key file (for make deploy KEY=)")
    k.add_argument("file", help="the key file to create (keep it out of the repository)")
    k.add_argument("--id", type=int, default=1, help="key id 1..65535 (default 1)")
    w = sub.add_parser("sweep", help="run a scenario over a grid of parameters (local pool or "
                       "Dask) into one table", description="Run every point of a sweep file "
                       "(the product of its [axes], or its [[points]]) and write results.csv, "
                       "results.parquet and plots to --out. Exit 0 when every point ran, 1 when "
                       "a point failed to run, 2 on a bad sweep file or folder.")
    w.add_argument("sweep_file", help="sweep TOML file, e.g. hil/sweeps/gains.toml")
    w.add_argument("--out", default="out/sweep", help="output folder (default out/sweep)")
    w.add_argument("--jobs", type=int, default=1,
                   help="local worker processes (default 1); ignored with --dask")
    w.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786 (see README)")
    w.add_argument("--resume", action="store_true",
                   help="keep the points already in --out's results.csv with status ok and run "
                        "only the others")
    w.add_argument("--keep-reports", action="store_true",
                   help="write each run's report folder under --out/runs/ (default: dropped)")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = sub.add_parser("regmap", help="print the register map")
    g.add_argument("--markdown", action="store_true", help="as the README's Markdown table")
    args = ap.parse_args(argv)
    from hil.sweep import SweepError
    try:
        if args.cmd == "keygen":
            return _keygen(args)
        if args.cmd == "sweep":
            from hil import sweep
            return sweep.main(args)
        return _run(args) if args.cmd == "run" else _regmap(args)
    except (ScenarioError, RunError, SweepError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
