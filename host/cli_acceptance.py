"""`python -m host acceptance FILE.csv`: a BSP's own 1 s data by the German acceptance model."""
import csv
import json
import math
import pathlib

from host.metrics.utc import DEFAULT_START_ISO

HELP = ("judge 1 s set-point / measured data (CSV) by the German TSOs' aFRR acceptance band "
        "and allocable under-fulfilment; per-ISP table, JSON or plot")

EPILOG = f"""\
input: a CSV with a header and one row per second, either
  t_s,setpoint_kw,measured_kw     t_s whole seconds, each row 1 s after the previous
  utc,setpoint_kw,measured_kw     ISO 8601 times (Z, an offset, or none = UTC), 1 s apart
kW, + = positive aFRR (upward). Blank lines and lines starting with # are skipped.
Product boundaries (00, 04, 08 .. UTC) and ISPs are UTC: with a t_s column, t_s = 0 is at
--start (default {DEFAULT_START_ISO}, an hour that is not a product boundary).
Exit status: 0 passed (no allocable under-fulfilment), 1 failed, 2 bad input."""

_SP = "setpoint_kw"
_MEAS = "measured_kw"


def configure(p):
    import argparse
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("file", help="CSV file: t_s|utc, setpoint_kw, measured_kw")
    p.add_argument("--start", default=None,
                   help="UTC time of t_s = 0, ISO 8601 (default %s, not a product "
                        "boundary); only with a t_s column" % DEFAULT_START_ISO)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (passed, charged_seconds, under_kwh_pos, "
                        "under_kwh_neg, accepted_kwh_pos, accepted_kwh_neg, isps, ...)")
    p.add_argument("--out", default=None,
                   help="folder for acceptance.png (the tolerance band, set-point, measured)")


class CsvError(ValueError):
    """'file:line: column: what is wrong' (one line)."""

    def __init__(self, path, line, col, msg):
        super().__init__("%s:%s: %s: %s" % (path, line if line else "?", col, msg))


def _number(path, no, col, text):
    try:
        v = float(text)
    except ValueError:
        raise CsvError(path, no, col, "not a number: %r" % text) from None
    if not math.isfinite(v):
        raise CsvError(path, no, col, "not finite: %r" % text)
    return v


def read_series(path, start_iso=None):
    """(start_utc_s, setpoint_kw list, measured_kw list) from a CSV; CsvError if bad."""
    from host.metrics.utc import parse_utc
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise CsvError(path, None, "file", "cannot read (%s)" % e.strerror) from None
    cols, tcol, sp, me, times = None, None, [], [], []
    with fh:
        try:
            for no, row in enumerate(csv.reader(fh), 1):
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                row = [c.strip() for c in row]
                if cols is None:
                    names = [c.lower() for c in row]
                    tcol = "t_s" if "t_s" in names else "utc" if "utc" in names else None
                    missing = [c for c in (tcol or "t_s|utc", _SP, _MEAS) if c not in names]
                    if missing or len(set(names)) != len(names):
                        raise CsvError(path, no, "header", "need the columns "
                                       "t_s|utc,setpoint_kw,measured_kw (got %s)"
                                       % ",".join(row))
                    cols = {c: names.index(c) for c in (tcol, _SP, _MEAS)}
                    continue
                if len(row) != len(names):
                    raise CsvError(path, no, "row", "expected %d columns, got %d"
                                   % (len(names), len(row)))
                t_text = row[cols[tcol]]
                if tcol == "t_s":
                    t = _number(path, no, "t_s", t_text)
                    if t != int(t):
                        raise CsvError(path, no, "t_s", "not a whole second: %r" % t_text)
                else:
                    try:
                        t = parse_utc(t_text)
                    except ValueError:
                        raise CsvError(path, no, "utc", "not an ISO 8601 time: %r"
                                       % t_text) from None
                    if t != int(t):
                        raise CsvError(path, no, "utc", "not a whole second: %r" % t_text)
                if times and t != times[-1] + 1:
                    raise CsvError(path, no, tcol, "%s is not 1 s after the previous row"
                                   % t_text)
                times.append(t)
                sp.append(_number(path, no, _SP, row[cols[_SP]]))
                me.append(_number(path, no, _MEAS, row[cols[_MEAS]]))
        except UnicodeDecodeError:
            raise CsvError(path, None, "file", "not UTF-8 text") from None
        except csv.Error as e:
            raise CsvError(path, None, "file", "not CSV (%s)" % e) from None
    if cols is None or not times:
        raise CsvError(path, None, "file", "no data rows (need a header and one row per "
                       "second)")
    if tcol == "utc":
        if start_iso is not None:
            raise CsvError(path, None, "--start", "only with a t_s column (this file has "
                           "utc times)")
        start = int(times[0])
    else:
        try:
            anchor = parse_utc(start_iso or DEFAULT_START_ISO)
        except ValueError:
            raise ValueError("--start: not an ISO 8601 time: %r" % start_iso) from None
        if anchor != int(anchor):
            raise ValueError("--start: not a whole second: %r" % start_iso)
        start = int(anchor) + int(times[0])
    return start, sp, me


def table(summary, pq):
    lines = ["acceptance from %s, %d s: %s" % (summary["start_utc"], summary["seconds"],
                                               "PASSED" if summary["passed"] else "FAILED"),
             "  charged %d s (allocable under-fulfilment), flagged %d s, %d of %d ISPs failed"
             % (summary["charged_seconds"], summary["flagged_seconds"], summary["isps_failed"],
                len(summary["isps"])),
             "  accepted %.3f kWh up / %.3f kWh down, under-fulfilled (allocable) %.3f kWh up "
             "/ %.3f kWh down" % (summary["accepted_kwh_pos"], summary["accepted_kwh_neg"],
                                  summary["under_kwh_pos"], summary["under_kwh_neg"]),
             "  prequalification steps: %d judged, %d late (> 30 s), %d not reached in FAT"
             % (pq["steps"], len(pq["late_reactions_s"]), len(pq["not_reached_s"])), ""]
    head = ("ISP start (UTC)", "end (UTC)", "s", "acc+ kWh", "acc- kWh", "under+ kWh",
            "under- kWh", "flag+ s", "flag- s", "charged s", "")
    rows = [head]
    for q in summary["isps"]:
        rows.append((q["isp_start_utc"], q["isp_end_utc"], str(q["seconds"]),
                     "%.3f" % q["accepted_kwh_pos"], "%.3f" % q["accepted_kwh_neg"],
                     "%.3f" % q["under_kwh_pos"], "%.3f" % q["under_kwh_neg"],
                     str(q["flagged_s_pos"]), str(q["flagged_s_neg"]),
                     str(q["charged_seconds"]), "ok" if q["passed"] else "FAIL"))
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        lines.append("  " + "  ".join(x.rjust(w[i]) if 2 <= i <= 9 else x.ljust(w[i])
                                      for i, x in enumerate(r)).rstrip())
    return "\n".join(lines)


def plot(path, r):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from host.metrics.utc import utc_iso
    t = np.arange(r.seconds)
    f, ax = plt.subplots(figsize=(10, 3.6))
    ax.fill_between(t, r.utg_kw, r.otg_kw, color="tab:green", alpha=0.15,
                    label="tolerance band (UTG..OTG)")
    ax.plot(t, r.oga_kw, color="tab:green", lw=0.6, label="acceptance limits (OGA, UGA)")
    ax.plot(t, r.uga_kw, color="tab:green", lw=0.6)
    ax.plot(t, r.setpoint_kw, lw=1, label="set-point")
    ax.plot(t, r.measured_kw, lw=1, label="measured")
    if r.charged.any():
        ax.fill_between(t, 0, 1, where=r.charged, color="tab:red", alpha=0.25,
                        transform=ax.get_xaxis_transform(), label="allocable under-fulfilment")
    ax.set_xlabel("s since %s" % utc_iso(r.start_utc_s))
    ax.set_ylabel("kW (+ = upward)")
    ax.set_title("aFRR acceptance: %s" % ("passed" if r.passed else "FAILED"))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    f.tight_layout()
    f.savefig(path, dpi=90)
    plt.close(f)
    return path


def main(args):
    from host.metrics import evaluate, prequalification_steps
    start, sp, me = read_series(args.file, args.start)
    r = evaluate(sp, me, start)
    pq = prequalification_steps(sp, me)
    summary = r.summary()
    summary["prequalification"] = {"steps": pq["steps"],
                                   "late_reactions": len(pq["late_reactions_s"]),
                                   "not_reached": len(pq["not_reached_s"]),
                                   "passed": pq["passed"]}
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        plot(out / "acceptance.png", r)
    if args.json:
        print(json.dumps(summary))
    else:
        print(table(summary, pq))
        if args.out:
            print("plot: %s" % (pathlib.Path(args.out) / "acceptance.png"))
    return 0 if r.passed else 1
