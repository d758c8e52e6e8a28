"""TRM calculator from planned vs actual cross-border flows (baltic-lt-ccm-explanatory-note.txt).

Source rule: "TRM will be calculated by considering netted planned and actual power flow
deviations on cross border and adding one standard deviation ... data set covering last 12
months ... recalculation at least once every month ... for each cross-border interconnection
direction ... for the first one month period ... fixed 50 MW TRM values ... recalculated every
month by adding additional data set, until 12 months data set is available."

Our reading of the ambiguous "netted" (documented choice, tested):
1. deviation of a sample = actual_mw - planned_mw, + = more flow in the border's a->b direction
   than planned (a row for "PL-LT" counts for border LT-PL with its sign flipped);
2. "netted": the samples of one border within one hour (market time unit) are averaged, so
   opposite deviations inside an hour cancel; one netted deviation per border and hour;
3. per direction the sample is the netted deviation in that direction's sense, deviations
   against the direction counting as 0 (they relieve it): a->b uses max(dev, 0), b->a uses
   max(-dev, 0);
4. TRM(direction) = mean(sample) + one population standard deviation (ddof=0) of the sample,
   over the window.
Window for month M: all hours from the first day of M-12 up to (not including) the first day
of M; the first month with no earlier data at all gets the fixed 50 MW.
"""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from datetime import datetime, timezone

FIRST_MONTH_TRM_MW = 50.0   # baltic-lt-ccm-explanatory-note.txt, TRM calculation
WINDOW_MONTHS = 12          # same source
COLUMNS = ("timestamp", "border", "planned_mw", "actual_mw")


class FlowFileError(ValueError):
    """A bad flows CSV: the message names file, line and field."""


def _border(text):
    parts = text.strip().split("-")
    if len(parts) != 2 or not all(parts):
        raise ValueError("expected two area names joined by '-', e.g. LT-PL")
    return parts[0], parts[1]


def _parse_time(text):
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def read_flows(path, canonical=None):
    """Read `timestamp, border, planned_mw, actual_mw`. Returns {(a, b): {hour: [dev, ...]}}
    with hour a UTC datetime truncated to the hour. canonical: optional list of (a, b) borders
    that fixes which way round each border is written (else first seen wins)."""
    canon = {}
    for a, b in canonical or ():
        canon[frozenset((a, b))] = (a, b)
    out = defaultdict(lambda: defaultdict(list))
    try:
        fh = open(path, newline="")
    except OSError as e:
        raise FlowFileError(f"{path}: cannot open: {e.strerror}") from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise FlowFileError(f"{path}:1: empty file, expected header {','.join(COLUMNS)}")
        names = [h.strip() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise FlowFileError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
        col = {c: names.index(c) for c in COLUMNS}
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not x.strip() for x in row):
                continue
            if len(row) < len(names):
                raise FlowFileError(f"{path}:{lineno}: {len(row)} fields, expected "
                                    f"{len(names)}")
            vals = {}
            for c in COLUMNS:
                text = row[col[c]]
                try:
                    if c == "timestamp":
                        vals[c] = _parse_time(text)
                    elif c == "border":
                        vals[c] = _border(text)
                    else:
                        vals[c] = float(text)
                        if not math.isfinite(vals[c]):
                            raise ValueError("not finite")
                except ValueError as e:
                    raise FlowFileError(f"{path}:{lineno}: field '{c}': bad value {text!r} "
                                        f"({e})") from None
            a, b = vals["border"]
            key = canon.setdefault(frozenset((a, b)), (a, b))
            dev = vals["actual_mw"] - vals["planned_mw"]
            if key != (a, b):
                dev = -dev
            hour = vals["timestamp"].replace(minute=0, second=0, microsecond=0)
            out[key][hour].append(dev)
    return {k: dict(v) for k, v in out.items()}


def _netted(hours):
    """{hour: [dev...]} -> {hour: mean dev}: deviations netted within each hour."""
    return {h: sum(v) / len(v) for h, v in hours.items()}


def _mean_plus_std(xs):
    n = len(xs)
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / n
    return m + math.sqrt(var)


def _trm(net):
    """TRM (a->b, b->a) MW from a non-empty list of netted hourly deviations."""
    return (_mean_plus_std([max(d, 0.0) for d in net]),
            _mean_plus_std([max(-d, 0.0) for d in net]))


def _window(net, start, end):
    """The netted deviations of the hours start <= hour < end."""
    return [d for h, d in net.items() if start <= h < end]


def trm_for_window(hours, start, end):
    """TRM (a->b, b->a) MW from one border's {hour: [dev...]} over start <= hour < end,
    or None when the window holds no data."""
    net = _window(_netted(hours), start, end)
    return _trm(net) if net else None


def _month_start(t):
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_months(t, k):
    y, m = divmod(t.month - 1 + k, 12)
    return t.replace(year=t.year + y, month=m + 1)


def trm_by_month(flows, first_month=None, last_month=None):
    """Monthly TRM schedule per border: a list of dicts
    {month: 'YYYY-MM', border: 'A-B', trm_ab_mw, trm_ba_mw, hours, rule}
    rule = 'first-month-50MW' or 'data'. The schedule runs from the first month of data (or
    first_month) to one month after the last data (or last_month), each month computed from
    the data before it (at most WINDOW_MONTHS months)."""
    rows = []
    for border, hours in sorted(flows.items()):
        if not hours:
            continue
        net = _netted(hours)   # once per border; each month's window is a slice of it
        lo = _month_start(min(hours)) if first_month is None else _month_start(first_month)
        hi = (_add_months(_month_start(max(hours)), 1) if last_month is None
              else _month_start(last_month))
        month = lo
        while month <= hi:
            window = _window(net, _add_months(month, -WINDOW_MONTHS), month)
            if window:
                trm, rule = _trm(window), "data"
            else:
                trm, rule = (FIRST_MONTH_TRM_MW, FIRST_MONTH_TRM_MW), "first-month-50MW"
            rows.append(dict(month=month.strftime("%Y-%m"), border=f"{border[0]}-{border[1]}",
                             trm_ab_mw=round(trm[0], 3), trm_ba_mw=round(trm[1], 3),
                             hours=len(window), rule=rule))
            month = _add_months(month, 1)
    return rows
