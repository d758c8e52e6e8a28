# Recorded frequency traces: read 'timestamp, hz' CSV (or 'utc,f_hz'), reject garbage by line.
import csv
import datetime as _dt
import math

import numpy as np

_TIME_COLS = {"utc", "timestamp", "time", "t", "t_s", "time_s"}
_FREQ_COLS = {"f_hz", "hz", "frequency", "freq", "f"}


class TraceError(ValueError):
    """A bad trace file: 'file:line: column: what is wrong'."""

    def __init__(self, path, line, col, msg):
        super().__init__("%s:%s: %s: %s" % (path, line if line else "?", col, msg))
        self.path, self.line, self.field = str(path), line, col


def _parse_time(s):
    """Seconds: a plain number, or an ISO 8601 time (Z or offset; naive = UTC)."""
    try:
        v = float(s)
        if math.isfinite(v):
            return v
        raise ValueError
    except ValueError:
        pass
    t = s.strip()
    if t.endswith("Z") or t.endswith("z"):
        t = t[:-1] + "+00:00"
    d = _dt.datetime.fromisoformat(t)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


def load_trace(path, f0_hz=50.0, until="", max_dev_hz=5.0):
    """Return (t_s from the first row, f_hz) arrays.

    Accepts an optional header (time column: utc/timestamp/time/t_s; frequency: f_hz/hz),
    blank lines and '#' comments. Every other row must be 'time, frequency' with time strictly
    increasing and |f - f0| <= max_dev_hz; anything else is a TraceError naming the line.
    `until` (same time format) drops rows after that time.
    """
    ts, fs = [], []
    cut = _parse_time(until) if until else None
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise TraceError(path, None, "file", "cannot read (%s)" % e.strerror) from None
    with fh:
        for no, row in enumerate(csv.reader(fh), 1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 2:
                raise TraceError(path, no, "row", "expected 2 columns (time, hz), got %d"
                                 % len(row))
            a, b = row[0].strip(), row[1].strip()
            if not ts and a.lower() in _TIME_COLS and b.lower() in _FREQ_COLS:
                continue   # header
            try:
                t = _parse_time(a)
            except ValueError:
                raise TraceError(path, no, "time", "not a number or ISO 8601 time: %r"
                                 % a) from None
            try:
                f = float(b)
            except ValueError:
                raise TraceError(path, no, "hz", "not a number: %r" % b) from None
            if not math.isfinite(f):
                raise TraceError(path, no, "hz", "not finite: %r" % b)
            if cut is not None and t > cut:
                break
            if abs(f - f0_hz) > max_dev_hz:
                raise TraceError(path, no, "hz", "%g Hz is more than %g Hz from %g Hz (cut the "
                                 "trace before it, e.g. trace_until)" % (f, max_dev_hz, f0_hz))
            if ts and t <= ts[-1]:
                raise TraceError(path, no, "time", "not strictly increasing")
            ts.append(t)
            fs.append(f)
    if len(ts) < 2:
        raise TraceError(path, None, "rows", "need at least 2 data rows, found %d" % len(ts))
    t = np.array(ts)
    return t - t[0], np.array(fs)
