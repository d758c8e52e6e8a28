# Replay of the measured Toledo trace (Iberian blackout, 2025-04-28) through the control core:
# normal operation stays in limits with no fault; the collapse below 47.5 Hz and the dead-bus
# artefacts meet the defined fail-safe (hold hold_cycles, ramp to 0 at band/FAT, stay at 0).
import pathlib

import pytest

from afrr.config import Config
from afrr.controller import F_FAILSAFE, F_FREQ_INVALID, MODE_LOCAL, Controller
from host.grid.trace import load_trace
from host.plant import Battery

TRACE = (pathlib.Path(__file__).resolve().parent.parent / "data" / "traces"
         / "toledo-blackout-2025-04-28" / "toledo-2025-04-28.csv")
COLLAPSE_S = 5596  # 10:33:16Z - 09:00:00Z: the last normal sample is 10:33:14Z


@pytest.fixture(scope="module")
def replay():
    t, f = load_trace(TRACE, max_dev_hz=20.0)  # keep the dead-bus rows: they are the test
    cfg = Config(frce_mode=1, k_mw_hz=20, band_up_kw=1000, band_down_kw=1000, rating_kw=1000,
                 cap_kwh=1000, hold_cycles=3, fat_s=300, cycle_ms=4000)
    ctl = Controller(cfg)
    ctl.set_mode(MODE_LOCAL)
    bat = Battery(rating_kw=1000, cap_kwh=1000, soc=0.5, eta_ch=0.95, eta_dis=0.95,
                  delay_s=0.0, ramp_kw_s=1000, aux_kw=0)
    m = ctl.meas
    rows = []
    prev_t = 0.0
    for ti, fi in zip(t, f):
        dt_ms = int(round((ti - prev_t) * 1000)) or 2000
        prev_t = ti
        m.f_mhz = int(round(fi * 1000))
        m.soc_x100 = int(bat.soc * 10000)
        m.tod_ms = (9 * 3600 * 1000 + int(ti * 1000)) % 86_400_000
        o = ctl.step(m, dt_ms)
        bat.step(o.p_set_kw, dt_ms / 1000)
        rows.append((ti, m.f_mhz, o.p_set_kw, o.flags, dt_ms, bat.soc))
    return cfg, rows


def test_trace_has_the_documented_shape(replay):
    _cfg, rows = replay
    assert len(rows) == 3590
    normal = [r for r in rows if r[0] < COLLAPSE_S]
    assert len(normal) == 2790
    assert min(r[1] for r in normal) == 49948 and max(r[1] for r in normal) == 50044


def test_normal_operation_stays_in_limits_without_faults(replay):
    cfg, rows = replay
    normal = [r for r in rows if r[0] < COLLAPSE_S]
    prev = 0
    for _t, _f, p, flags, dt_ms, soc in normal:
        assert not flags & (F_FAILSAFE | F_FREQ_INVALID)
        assert -1000 <= p <= 1000
        assert abs(p - prev) <= -(-1000 * dt_ms // 300_000)  # band/FAT ramp, rounded up
        assert 0.1 <= soc <= 0.9
        prev = p
    # the unit really worked: both directions used over 93 minutes of normal frequency
    assert max(r[2] for r in normal) > 300 and min(r[2] for r in normal) < -300


def test_collapse_and_artefacts_meet_the_fail_safe(replay):
    cfg, rows = replay
    i0 = next(i for i, r in enumerate(rows) if r[1] < 47500)  # 47.476 Hz at 10:33:22Z
    assert rows[i0][0] == COLLAPSE_S + 6
    # falling through 49.9 -> 48.6 Hz (still valid): the set-point moves upward
    assert rows[i0 - 1][2] > rows[i0 - 3][2]
    p_hold = rows[i0 - 1][2]
    after = rows[i0:]
    assert all(r[3] & F_FAILSAFE and r[3] & F_FREQ_INVALID for r in after)
    assert [r[2] for r in after[:3]] == [p_hold] * 3  # held for hold_cycles cycles
    ps = [r[2] for r in after[3:]]
    assert p_hold != 0
    # monotone towards 0, never across it
    assert all(abs(b) <= abs(a) and a * b >= 0 for a, b in zip([p_hold] + ps, ps))
    steps_to_zero = ps.index(0) + 1
    # ramp at band/FAT: |p| / (1000 kW / 300 s) seconds at 2 s per sample, rounded up
    assert steps_to_zero <= -(-abs(p_hold) * 300 // 1000) // 2 + 1
    assert all(p == 0 for p in ps[steps_to_zero:])  # the dead bus never re-activates it
