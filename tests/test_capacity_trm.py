"""TRM from planned vs actual flows, NTC = TTC - TRM, free capacity for aFRR: hand-computed."""
import math
from datetime import datetime, timedelta, timezone

import pytest

from host.capacity import (
    BorderCapacity,
    FlowFileError,
    free_capacity_kw,
    ntc_mw,
    read_flows,
    trm_by_month,
    ttc_mw,
)

T0 = datetime(2025, 2, 9, tzinfo=timezone.utc)


def _write(tmp_path, rows, name="flows.csv"):
    p = tmp_path / name
    p.write_text("timestamp,border,planned_mw,actual_mw\n" + "".join(
        f"{t.isoformat()},{b},{pl},{ac}\n" for t, b, pl, ac in rows))
    return p


def _hours(start, n):
    return [start + timedelta(hours=i) for i in range(n)]


def _month(rows, month, border="LT-PL"):
    (r,) = [r for r in rows if r["month"] == month and r["border"] == border]
    return r


def test_constant_deviation(tmp_path):
    # actual always 30 MW above plan in LT->PL direction, February 2025
    p = _write(tmp_path, [(t, "LT-PL", 100, 130) for t in _hours(T0, 24 * 19)])
    rows = trm_by_month(read_flows(p))
    feb, mar = _month(rows, "2025-02"), _month(rows, "2025-03")
    assert feb["rule"] == "first-month-50MW" and feb["trm_ab_mw"] == feb["trm_ba_mw"] == 50.0
    assert mar["rule"] == "data" and mar["hours"] == 24 * 19
    assert mar["trm_ab_mw"] == pytest.approx(30.0)   # mean 30 + std 0
    assert mar["trm_ba_mw"] == pytest.approx(0.0)    # never deviated towards LT


def test_known_standard_deviation_and_direction_split(tmp_path):
    # hourly deviations +10, +30, -20, -40 repeated: a->b sample 10,30,0,0; b->a 0,0,20,40
    devs = [10, 30, -20, -40] * 50
    rows = [(t, "LT-PL", 0, d) for t, d in zip(_hours(T0, len(devs)), devs)]
    res = trm_by_month(read_flows(_write(tmp_path, rows)))
    mar = _month(res, "2025-03")
    ab = [10, 30, 0, 0]
    m = sum(ab) / 4
    sd = math.sqrt(sum((x - m) ** 2 for x in ab) / 4)      # 10 + sqrt(150)
    assert mar["trm_ab_mw"] == pytest.approx(m + sd, abs=1e-3)
    ba = [0, 0, 20, 40]
    m = sum(ba) / 4
    sd = math.sqrt(sum((x - m) ** 2 for x in ba) / 4)      # 15 + sqrt(275)
    assert mar["trm_ba_mw"] == pytest.approx(m + sd, abs=1e-3)


def test_deviations_net_within_the_hour_and_reverse_naming(tmp_path):
    # two quarter-hour samples +50 and -50 in each hour net to zero; a PL-LT row counts reversed
    rows = []
    for t in _hours(T0, 48):
        rows += [(t, "LT-PL", 0, 50), (t + timedelta(minutes=15), "LT-PL", 0, -50)]
    rows += [(T0 + timedelta(days=3), "PL-LT", 0, -80)]      # = LT-PL +80 in that hour
    res = trm_by_month(read_flows(_write(tmp_path, rows), canonical=[("LT", "PL")]))
    mar = _month(res, "2025-03")
    assert mar["hours"] == 49
    xs = [0.0] * 48 + [80.0]
    m = sum(xs) / 49
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / 49)
    assert mar["trm_ab_mw"] == pytest.approx(m + sd, abs=1e-3)
    assert mar["trm_ba_mw"] == pytest.approx(0.0)


def test_twelve_month_window_rolls(tmp_path):
    # month k (Mar 2025 = 0 ...) has a constant deviation of 10*(k+1) MW
    rows = []
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    for k in range(14):
        m0 = start.replace(year=2025 + (2 + k) // 12, month=(2 + k) % 12 + 1)
        rows += [(t, "EE-LV", 0, 10 * (k + 1)) for t in _hours(m0, 24)]
    res = trm_by_month(read_flows(_write(tmp_path, rows)))
    assert _month(res, "2025-03", "EE-LV")["trm_ab_mw"] == 50.0          # no data before
    assert _month(res, "2025-04", "EE-LV")["trm_ab_mw"] == pytest.approx(10.0)
    # Apr 2026: window Apr 2025..Mar 2026 = months k=1..12 -> values 20..130, equal counts
    xs = [10 * (k + 1) for k in range(1, 13)]
    m = sum(xs) / 12
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / 12)
    r = _month(res, "2026-04", "EE-LV")
    assert r["hours"] == 12 * 24
    assert r["trm_ab_mw"] == pytest.approx(m + sd, abs=1e-3)
    # May 2026: month k=0 (10 MW) has left the window, k=13 (140 MW) has entered
    xs = [10 * (k + 1) for k in range(2, 14)]
    m = sum(xs) / 12
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / 12)
    assert _month(res, "2026-05", "EE-LV")["trm_ab_mw"] == pytest.approx(m + sd, abs=1e-3)


@pytest.mark.parametrize("text, where", [
    ("timestamp,border,planned_mw\n", ":1: header lacks column(s) actual_mw"),
    ("timestamp,border,planned_mw,actual_mw\n2025-02-09T00:00,LT-PL,1,x\n",
     ":2: field 'actual_mw'"),
    ("timestamp,border,planned_mw,actual_mw\n2025-02-09T00:00,LT-PL,1,2\nnoon,LT-PL,1,2\n",
     ":3: field 'timestamp'"),
    ("timestamp,border,planned_mw,actual_mw\n2025-02-09T00:00,LTPL,1,2\n", ":2: field 'border'"),
    ("", ":1: empty file"),
])
def test_bad_file_names_line_and_field(tmp_path, text, where):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(FlowFileError) as e:
        read_flows(p)
    assert str(e.value).startswith(str(p)) and where in str(e.value)
    assert "\n" not in str(e.value)


def test_ttc_ntc_and_free_capacity():
    assert ttc_mw(static=500, transient=400, oscillatory=450, frequency=170) == 170
    assert ttc_mw() == math.inf
    assert ntc_mw(170, 50) == 120 and ntc_mw(30, 50) == 0
    bc = BorderCapacity("LT", "PL", limits={"static": (500, 500), "frequency": (220, 200)},
                        trm=(50, 50), allocated=(100, 20), mfrr=(30, 200))
    assert bc.ttc() == (220, 200)
    assert bc.ntc() == (170, 150)          # the trading capacity Litgrid quotes since Feb 2025
    assert bc.free_for_afrr() == (40, 0)   # mFRR first, never negative
    assert free_capacity_kw([bc]) == {("LT", "PL"): (40_000.0, 0.0)}
    with pytest.raises(ValueError, match="unknown limit"):
        BorderCapacity("LT", "PL", limits={"thermal": (1, 1)})
    with pytest.raises(ValueError, match="trm"):
        BorderCapacity("LT", "PL", limits={}, trm=(-1, 0))
