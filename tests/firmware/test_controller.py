# Control-core behaviour; plain test_* functions run by pytest (CPython) and tests/mp_runner.py.
from afrr.config import Config, ConfigError
from afrr.controller import (
    F_FAILSAFE,
    F_FREQ_INVALID,
    F_RAMP,
    F_REMOTE_LOST,
    F_SAT_HIGH,
    F_SOC_INVALID,
    F_SOC_LIMIT,
    F_STALE,
    MODE_LOCAL,
    MODE_OFF,
    MODE_REMOTE,
    Controller,
    Energy,
)


def _ctl(mode=MODE_LOCAL, **kw):
    ctl = Controller(Config(**kw))
    ctl.set_mode(mode)
    return ctl


def _run(ctl, n, dt=4000, **meas):
    m = ctl.meas
    for k in meas:
        setattr(m, k, meas[k])
    out = []
    for _ in range(n):
        m.tod_ms = (m.tod_ms + dt) % 86400000
        o = ctl.step(m, dt)
        out.append((o.p_set_kw, o.flags, o.integ_kw))
    return out


def test_ace_formula_area_mode():
    ctl = _ctl(n_ties=2, k_mw_hz=500)
    m = ctl.meas
    m.ties_kw[0], m.ties_kw[1], m.sched_kw, m.f_mhz = 1000, -300, 200, 49990
    o = ctl.step(m, 4000)
    # (1000 - 300 - 200) + 500 kW/mHz * (-10 mHz)
    assert o.ace_kw == 500 - 5000


def test_synchronous_mode_uses_frequency_only():
    ctl = _ctl(frce_mode=1, n_ties=2, k_mw_hz=500)
    m = ctl.meas
    m.ties_kw[0], m.sched_kw, m.f_mhz = 99999, 12345, 50020
    assert ctl.step(m, 4000).ace_kw == 500 * 20


def test_sign_convention_surplus_goes_down_deficit_goes_up():
    down = _run(_ctl(), 10, f_mhz=50040)  # over-frequency: ACE > 0, surplus
    assert all(p < 0 for p, _f, _i in down)
    up = _run(_ctl(), 10, f_mhz=49960)  # under-frequency: ACE < 0, deficit
    assert all(p > 0 for p, _f, _i in up)


def test_export_surplus_on_tie_goes_down():
    ctl = _ctl(n_ties=1)
    ctl.meas.ties_kw[0] = 800  # exporting 800 kW more than scheduled
    assert ctl.step(ctl.meas, 4000).p_set_kw < 0


def test_deadband_shifts_frce():
    ctl = _ctl(k_mw_hz=100, deadband_kw=300)
    m = ctl.meas
    m.f_mhz = 50002  # ACE 200 kW inside the deadband
    assert ctl.step(m, 4000).frce_kw == 0
    m.f_mhz = 50005  # ACE 500 kW -> 200 kW past the deadband
    assert ctl.step(m, 4000).frce_kw == 200
    m.f_mhz = 49995
    assert ctl.step(m, 4000).frce_kw == -200


def test_ramp_reaches_full_band_within_fat_and_never_faster():
    ctl = _ctl(band_up_kw=1000, rating_kw=1000, fat_s=300)
    rows = _run(ctl, 80, f_mhz=49800)
    ps = [0] + [p for p, _f, _i in rows]
    steps = [b - a for a, b in zip(ps, ps[1:])]
    assert max(steps) == 14  # ceil(1000 kW * 4 s / 300 s)
    first_full = ps.index(1000)
    assert first_full * 4 <= 300
    assert rows[0][1] & F_RAMP


def test_unit_ramp_caps_the_rate():
    # 900 kW in 300 s at 1.5 s steps is 4.5 kW per step (ceil 5); the unit manages 3 kW/s,
    # floor(4.5) = 4 kW per step: the unit's own ramp wins over the FAT rounding
    ctl = _ctl(band_up_kw=900, band_down_kw=900, rating_kw=900, fat_s=300, unit_ramp_kw_s=3,
               cycle_ms=1500)
    rows = _run(ctl, 3, dt=1500, f_mhz=49800)
    assert [p for p, _f, _i in rows] == [4, 8, 12]


def test_output_inside_band_and_rating():
    ctl = _ctl(band_up_kw=700, band_down_kw=300, rating_kw=800, unit_ramp_kw_s=1000, fat_s=30)
    hi = _run(ctl, 40, f_mhz=49000)
    assert max(p for p, _f, _i in hi) == 700
    assert hi[-1][1] & F_SAT_HIGH
    lo = _run(ctl, 40, f_mhz=51000)
    assert min(p for p, _f, _i in lo) == -300


def test_soc_guard_limits_discharge_near_minimum():
    # 1000 kWh at 11 %: 1 % = 10 kWh = 36 000 kJ above the 10 % floor. Horizon = one 4 s cycle
    # + FAT 300 s = 304 s; discharge efficiency 0.95: 36 000 * 0.95 / 304 = 112.5 -> 112 kW.
    ctl = _ctl(cap_kwh=1000, soc_min_x100=1000, eta_dis_pm=950, band_up_kw=1000, fat_s=300)
    m = ctl.meas
    m.soc_x100, m.f_mhz = 1100, 49500
    o = ctl.step(m, 4000)
    assert o.lim_up_kw == 112
    assert o.flags & F_SOC_LIMIT
    m.soc_x100 = 1000
    assert ctl.step(m, 4000).lim_up_kw == 0
    assert ctl.out.p_set_kw == 0


def test_soc_guard_limits_charge_near_maximum():
    # 1 % of 1000 kWh = 36 000 kJ of room; 36 000 / 304 s = 118 kW of stored power;
    # charge efficiency 0.9: 118 / 0.9 = 131 kW from the grid
    ctl = _ctl(cap_kwh=1000, soc_max_x100=9000, eta_ch_pm=900, band_down_kw=1000, fat_s=300)
    m = ctl.meas
    m.soc_x100 = 8900
    assert ctl.step(m, 4000).lim_down_kw == 131


def test_flexible_load_limits_follow_baseline():
    ctl = _ctl(unit_type=1, base_kw=600, load_min_kw=200, load_max_kw=900, band_up_kw=1000,
               band_down_kw=1000)
    o = ctl.step(ctl.meas, 4000)
    assert (o.lim_up_kw, o.lim_down_kw) == (400, 300)


def test_fault_holds_then_ramps_to_zero_then_resumes_bumplessly():
    ctl = _ctl(hold_cycles=3, band_up_kw=1000, rating_kw=1000, fat_s=300)
    _run(ctl, 100, f_mhz=49800)
    assert ctl.out.p_set_kw == 1000
    integ = ctl.out.integ_kw
    rows = _run(ctl, 80, f_mhz=40000)  # a dead bus reads 40 Hz: invalid
    ps = [p for p, _f, _i in rows]
    assert ps[:3] == [1000, 1000, 1000]  # held for hold_cycles
    assert ps[3] == 1000 - 14 and ps[4] == 1000 - 28  # then ramped at band/FAT
    assert ps[-1] == 0
    assert all(f & F_FAILSAFE and f & F_FREQ_INVALID for _p, f, _i in rows)
    assert all(i == integ for _p, _f, i in rows)  # integrator frozen
    back = _run(ctl, 3, f_mhz=49800)
    assert back[0][0] <= 14 and not back[0][1] & F_FAILSAFE  # no bump on return


def test_stale_measurement_is_a_fault():
    ctl = _ctl(max_age_ms=8000)
    rows = _run(ctl, 2, age_ms=9000)
    assert rows[0][1] & F_STALE and rows[0][1] & F_FAILSAFE


def test_remote_follows_setpoint_then_loss_rule():
    ctl = _ctl(mode=MODE_REMOTE, remote_timeout_cycles=2, hold_cycles=3, band_up_kw=1000,
               rating_kw=1000, fat_s=300)
    m = ctl.meas
    ps = []
    for _ in range(40):
        m.remote_seq += 1
        m.remote_sp_kw = 420
        m.tod_ms += 4000
        ps.append(ctl.step(m, 4000).p_set_kw)
    assert ps[0] == 14 and ps[-1] == 420
    # the TSO goes silent: held for timeout (2) + hold (3) cycles, then ramps to 0
    rows = _run(ctl, 40)
    seq = [p for p, _f, _i in rows]
    assert seq[:4] == [420] * 4
    assert not rows[0][1] & F_REMOTE_LOST
    assert rows[1][1] & F_REMOTE_LOST
    assert seq[4] == 420 - 14
    assert seq[-1] == 0
    # the TSO returns: followed again, ramped
    m.remote_seq += 1
    m.remote_sp_kw = -200
    o = ctl.step(m, 4000)
    assert o.p_set_kw == -14 and not o.flags & F_REMOTE_LOST


def test_remote_setpoint_is_clipped_to_limits():
    ctl = _ctl(mode=MODE_REMOTE, band_up_kw=500, rating_kw=1000, fat_s=30,
               unit_ramp_kw_s=1000)
    m = ctl.meas
    for _ in range(20):
        m.remote_seq += 1
        m.remote_sp_kw = 90000
        ctl.step(m, 4000)
    assert ctl.out.p_set_kw == 500


def test_mode_switch_is_bumpless():
    ctl = _ctl(band_up_kw=1000, rating_kw=1000, fat_s=300)
    _run(ctl, 30, f_mhz=49900)
    p0 = ctl.out.p_set_kw
    ctl.set_mode(MODE_REMOTE)
    ctl.meas.remote_seq += 1
    ctl.meas.remote_sp_kw = -1000
    assert ctl.step(ctl.meas, 4000).p_set_kw == p0 - 14
    ctl.set_mode(MODE_LOCAL)
    p1 = ctl.out.p_set_kw
    assert abs(ctl.step(ctl.meas, 4000).p_set_kw - p1) <= 14
    ctl.set_mode(MODE_OFF)
    rows = _run(ctl, 100)
    assert rows[-1][0] == 0
    assert ctl.set_mode(7) is False and ctl.mode == MODE_OFF


def test_garbage_inputs_never_raise_and_fail_safe():
    ctl = _ctl()
    m = ctl.meas
    for bad in (None, 50.0, "50000", -1, 10 ** 12, [1]):
        m.f_mhz = bad
        m.soc_x100 = bad
        m.age_ms = bad
        m.tod_ms = bad
        o = ctl.step(m, bad)
        assert o.flags & F_FAILSAFE
        assert o.flags & F_SOC_INVALID
        assert -1000 <= o.p_set_kw <= 1000
    m.ties_kw = None
    assert ctl.step(m, 4000).flags & F_FAILSAFE


def test_energy_one_full_isp_at_constant_power():
    en = Energy()
    en.account(0, 0, 0)
    t = 0
    while t < 900000:
        t += 4000
        en.account(t, 1000, -2500)  # 1000 kW held, ACE -2.5 MW
    en.account(t + 4000, 0, 0)
    assert en.prev_isp == 0
    assert en.prev_up_wh == 250000  # 1 MW for a quarter hour
    assert en.prev_down_wh == 0
    assert en.row_up_kw[:15] == [1000] * 15 or en.isp == 1


def test_energy_rows_are_averages_over_elapsed_isp():
    en = Energy()
    en.account(0, 0, 0)
    for k in range(1, 46):  # 3 minutes, 4 s steps
        en.account(k * 4000, 600 if k <= 15 else -300, 1500)
    assert en.n_rows == 3
    assert en.row_up_kw[0] == 600
    assert en.row_up_kw[1] == 300  # 600 kW for 60 s over 120 s elapsed
    assert en.row_down_kw[2] == 200  # 300 kW for 120 s over 180 s
    assert en.row_ace_mw[2] == 1  # 1.5 MW floored to whole MW


def test_energy_splits_interval_at_isp_boundary():
    en = Energy()
    en.account(898000, 0, 0)
    en.account(902000, 3600, 0)  # 2 s in the old ISP, 2 s in the new
    assert en.prev_up_wh == 2000  # 3600 kW * 2 s = 7200 kWs = 2000 Wh
    assert en.up_kws == 7200
    assert en.isp == 1


def test_energy_gap_is_flagged_not_invented():
    en = Energy()
    assert en.account(0, 0, 0)
    assert en.account(4000, 100, 0)
    assert not en.account(400000, 100, 0)  # 396 s gap
    assert en.partial


def test_config_error_names_field_and_range():
    try:
        Config(fat_s=10)
    except ConfigError as e:
        assert e.field == "fat_s"
        assert "30..900" in str(e)
    else:
        raise AssertionError("no ConfigError")
    c = Config()
    try:
        c.set("soc_min_x100", 9500)  # above soc_max
    except ConfigError as e:
        assert e.field == "soc_min_x100"
    else:
        raise AssertionError("no ConfigError")
    assert c.soc_min_x100 == 1000  # previous value kept


def test_state_round_trip():
    a = _ctl()
    _run(a, 50, f_mhz=49950)
    b = _ctl()
    assert b.restore(a.state_words())
    assert b.state_words() == a.state_words()
    assert not b.restore([1, 2, 3])
    assert not b.restore(a.state_words()[:-1] + [2 ** 40])


def test_restore_refuses_words_outside_their_ranges():
    # band 600 kW up / 400 kW down inside a 2000 kW rating: the band is the bound
    kw = {"rating_kw": 2000, "band_up_kw": 600, "band_down_kw": 400}
    a = _ctl(**kw)
    _run(a, 250, f_mhz=49900)  # upward, saturates at the band; crosses an ISP edge
    good = a.state_words()
    assert good[2] == 600 and good[6] >= 0 and good[9] > 0
    bad_cases = (
        (2, 601), (2, -401), (2, 1500),  # set-point beyond the band (inside the rating)
        (3, 601), (3, -401),  # integrator beyond the band
        (5, 100001),  # latched remote set-point beyond what a write may set
        (6, good[6] + 1), (6, -1),  # ISP not the one of the last time of day
        (7, 86400000), (7, -2),  # time of day outside a day
        (8, 96), (8, -2),  # previous ISP index
        (9, -1), (10, 25000001),  # previous ISP Wh: negative, above 100 MW over 15 min
        (11, 2),  # partial flag
        (12, -1), (14, 90000001),  # kWs of this ISP
        (13, 1000), (15, -1), (17, 1000), (18, 1000),  # remainders
    )
    for i, v in bad_cases:
        words = list(good)
        words[i] = v
        b = _ctl(**kw)
        before = b.state_words()
        assert not b.restore(words), (i, v)
        assert b.state_words() == before, (i, v)  # state unchanged
    # the edges themselves are accepted
    for i, v in ((2, -400), (3, 600), (5, -100000), (7, -1), (8, -1), (11, 0), (13, 999),
                 (16, -(2 ** 30))):
        words = list(good)
        words[i] = v
        if i == 7:
            words[6] = -1  # no time of day yet: no ISP either
        assert _ctl(**kw).restore(words), (i, v)
