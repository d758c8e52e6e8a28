# UTC time base shared by the metrics and the publication: epoch seconds <-> ISO 8601.
import datetime as _dt

# Anchor of a series whose time axis is "seconds since start" (market runs, HIL runs, a CSV
# with t_s): 2026-01-01 01:00:00 UTC, an hour that is not a 4-hour product boundary.
DEFAULT_START_UTC_S = 1767229200
DEFAULT_START_ISO = "2026-01-01T01:00:00Z"


def utc_iso(t_utc_s):
    """'YYYY-MM-DDTHH:MM:SSZ' of a UTC epoch second (fractions are dropped)."""
    d = _dt.datetime.fromtimestamp(int(t_utc_s), tz=_dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text):
    """ISO 8601 text -> UTC epoch seconds (float); no offset means UTC. ValueError if bad."""
    s = str(text).strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    d = _dt.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()
