# A UTC time axis for plots whose x data are seconds since the start of a run.
#
# The data stay in seconds (so spans given in run seconds, such as the cut and fail-safe windows,
# draw where they belong); only the ticks say UTC clock time, and the grid marks the imbalance
# settlement periods (ISP, 15 min) on short runs, hours on long ones.
from host.metrics.utc import utc_iso

ISP_S = 900
# tick steps tried in turn (s): the first that gives at most 12 ticks over the span is used
_TICK_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400)


def _aligned(start_utc_s, lo_s, hi_s, step):
    """Run seconds in [lo_s, hi_s] whose UTC time is a multiple of step."""
    first = lo_s + (-(start_utc_s + lo_s)) % step
    out = []
    t = first
    while t <= hi_s + 1e-9:
        out.append(t)
        t += step
    return out


def tick_step(span_s):
    """Seconds between labelled ticks for a run of span_s seconds."""
    for step in _TICK_STEPS:
        if span_s / step <= 12:
            return step
    return _TICK_STEPS[-1]


def grid_step(span_s):
    """Seconds between grid lines: the ISP up to 6 h, then hours (a day has 24 lines)."""
    return ISP_S if span_s <= 6 * 3600 else 3600


def utc_axis(ax, start_utc_s, span_s, label=True):
    """Label ax's x axis (run seconds 0..span_s) in UTC 'HH:MM' with ISP or hour grid lines;
    returns the run seconds of those lines."""
    from matplotlib.ticker import FixedLocator, FuncFormatter
    span_s = max(float(span_s), 1.0)
    ax.set_xlim(0, span_s)
    ax.xaxis.set_major_locator(FixedLocator(_aligned(start_utc_s, 0, span_s, tick_step(span_s))))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda t, _pos: utc_iso(start_utc_s + t)[11:16]))
    ax.grid(True, which="major", alpha=0.25)
    lines = _aligned(start_utc_s, 0, span_s, grid_step(span_s))
    for t in lines:  # ISP (or hour) boundaries, darker than the tick grid
        ax.axvline(t, color="0.55", lw=0.7, zorder=0.5, gid="isp-grid")
    if label:
        ax.set_xlabel("UTC, %s (grid: %s)" % (
            utc_iso(start_utc_s)[:10] if utc_iso(start_utc_s)[:10] ==
            utc_iso(start_utc_s + span_s - 1)[:10] else "from " + utc_iso(start_utc_s)[:16] + "Z",
            "ISP, 15 min" if grid_step(span_s) == ISP_S else "hours"))
    return lines
