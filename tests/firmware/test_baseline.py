# Participation factor and declared baseline: hand-derived values; run by pytest and mp_runner.
from afrr.config import Config
from afrr.controller import F_SOC_LIMIT, MODE_LOCAL, MODE_REMOTE, Controller
from afrr.imath import mul_ppm

ISP = 900000


def _bat(mode=MODE_LOCAL, **kw):
    # 1 MW / 2 MWh battery offering 800 kW: the baseline has 1000 - 800 = 200 kW of room
    base = {"frce_mode": 1, "k_mw_hz": 78, "rating_kw": 1000, "band_up_kw": 800,
            "band_down_kw": 800, "cap_kwh": 2000}
    base.update(kw)
    ctl = Controller(Config(**base))
    ctl.set_mode(mode)
    return ctl


def _at(ctl, tod, soc, f=50000):
    m = ctl.meas
    m.tod_ms, m.soc_x100, m.f_mhz = tod, soc, f
    return ctl.step(m, 4000)


def test_mul_ppm_is_exact_at_the_range_ends():
    for a in (0, 1, -1, 999, -999, 1000, 123456789, -123456789, 2 ** 30 - 1, -(2 ** 30 - 1)):
        for s in (0, 1, 8333, 999999, 1000000):
            assert mul_ppm(a, s) == (a * s) // 1000000


def test_the_step_scales_the_frce_exactly_as_mul_ppm():
    # the step computes share * FRCE inline (no call on the hot path): it must equal mul_ppm
    # on |FRCE| with the sign put back, for either sign, at the range ends and in between.
    # Observed through the P term of the first local step: p_pi = -mul_q15(e, kp).
    from afrr.imath import mul_q15
    for k in (1, 78, 1234, 50000):
        for df in (-2500, -999, -1, 1, 7, 1000, 2500):
            for s in (1, 999, 8333, 333333, 999999, 1000000):
                ctl = _bat(k_mw_hz=k, share_ppm=s, kp_q15=32767)
                o = _at(ctl, 4000, 5000, 50000 + df)
                frce = k * df
                e = mul_ppm(frce, s) if frce >= 0 else -mul_ppm(-frce, s)
                assert o.frce_kw == frce
                assert o.p_pi_kw == -mul_q15(e, 32767), (k, df, s)


def test_participation_factor_scales_the_frce_before_the_pi():
    # LT: K = 78 MW/Hz, 1 MW of a 120 MW aFRR: share = 1/120 = 8333 ppm. At -100 mHz the
    # area ACE is 78 * -100 = -7800 kW; the unit's part: 7800 * 8333 / 10**6 = 64.997 -> 64
    # kW of deficit (rounded toward 0). P: 0.1 * 64 = 6.4, floored on -6.4 -> 7 kW upward;
    # the integral of 64 kW over 4 s / Tr 100 s = 2.56 kW, floored on the negative side -> 3.
    ctl = _bat(share_ppm=8333)
    o = _at(ctl, 4000, 5000, 49900)
    assert o.ace_kw == -7800
    assert o.frce_kw == -7800  # the area's FRCE is published unscaled
    assert (o.p_set_kw, o.integ_kw) == (7, 3)
    # the whole area (default share 10**6): the P term alone, 780 kW, is held by the ramp
    # (800 kW band in 300 s: 10.67 kW per 4 s cycle, rounded up to 11)
    o = _at(_bat(), 4000, 5000, 49900)
    assert o.p_set_kw == 11


def test_baseline_declared_one_isp_ahead_and_fixed_inside_it():
    ctl = _bat()
    # ISP 0, SoC 70 %: nothing was declared for ISP 0, so it runs at 0. Declared for ISP 1:
    # SoC above the 40..60 % window -> bring it to 50 % in one ISP: 20 % of 2000 kWh =
    # 400 kWh in 0.25 h = 1600 kW, bounded by the room 1000 - 800 = 200 kW (discharge)
    o = _at(ctl, 0, 7000)
    assert (o.base_kw, o.base_next_kw, o.p_set_kw) == (0, 200, 0)
    # inside ISP 0 the SoC changes but neither value does
    o = _at(ctl, 4000, 3000)
    assert (o.base_kw, o.base_next_kw) == (0, 200)
    o = _at(ctl, ISP - 4000, 9000)
    assert (o.base_kw, o.base_next_kw) == (0, 200)
    # ISP 1: 200 kW in force; unit set-point = baseline + aFRR (0 at 50 Hz). Prediction: 200 kW
    # for 15 min = 50 kWh = 2.5 % -> 6100 - 250 = 5850, inside the window -> declare 0
    o = _at(ctl, ISP, 6100)
    assert (o.base_kw, o.base_next_kw, o.p_set_kw) == (200, 0, 200)
    # ISP 2: SoC 30 %: charge 20 % -> -1600 kW, bounded to -200 kW
    o = _at(ctl, 2 * ISP, 3000)
    assert (o.base_kw, o.base_next_kw) == (0, -200)
    o = _at(ctl, 3 * ISP, 3900)
    assert (o.base_kw, o.p_set_kw) == (-200, -200)
    # 3900 + 250 = 4150: inside, declare 0
    assert o.base_next_kw == 0


def test_baseline_is_proportional_inside_its_room():
    # 200 kWh at 61 %: 11 % above the middle = 22 kWh in 0.25 h = 88 kW
    ctl = _bat(cap_kwh=200)
    assert _at(ctl, 0, 6100).base_next_kw == 88
    # 88 kW in force moves the prediction by 88 * 2500 / 200 = 1100 units: 6100 -> 5000
    o = _at(ctl, ISP, 6100)
    assert (o.base_kw, o.base_next_kw) == (88, 0)
    # nothing in force, 39 %: 11 % below the middle -> charge 88 kW
    assert _at(ctl, 2 * ISP, 3900).base_next_kw == -88


def test_baseline_room_zero_when_band_is_the_rating():
    ctl = _bat(band_up_kw=1000, band_down_kw=1000)
    assert _at(ctl, 0, 8000).base_next_kw == 0
    assert _at(ctl, ISP, 2000).base_kw == 0


def test_an_isp_not_declared_for_runs_at_zero_and_midnight_wraps():
    ctl = _bat()
    _at(ctl, 95 * ISP, 7000)  # declares 200 for ISP 0 of the next day
    assert _at(ctl, 0, 5000).base_kw == 200
    assert ctl.out.base_next_kw == 0  # 5000 - 250 = 4750: inside
    _at(ctl, 3 * ISP, 7000)  # ISP 1, 2 skipped (a gap): ISP 3 was not declared
    assert ctl.out.base_kw == 0


def test_energy_counts_afrr_only_and_limits_are_on_the_afrr_part():
    ctl = _bat()
    for k in range(225):  # ISP 0 at 70 %: 200 kW declared for ISP 1
        _at(ctl, k * 4000, 7000)
    o = _at(ctl, ISP, 5000)
    assert (o.base_kw, o.p_set_kw, o.lim_up_kw, o.lim_down_kw) == (200, 200, 800, 800)
    assert ctl.energy.up_kws == 0  # the baseline is not aFRR energy
    # a deficit (-1 Hz) asks for the full upward band on top of the baseline. The aFRR part
    # ramps 11 kW per cycle to 800: after step k of ISP 1 it is min(11 (k + 1), 800), and
    # the steps at k = 1..99 account the part held before them over 4 s each:
    # 4 * (11 * (1 + .. + 72) + 27 * 800) = 4 * (28 908 + 21 600) = 202 032 kWs
    for k in range(100):
        o = _at(ctl, ISP + k * 4000, 5000, 49000)
    assert (o.p_set_kw, o.base_kw, o.integ_kw) == (1000, 200, 800)  # total = the rating
    assert ctl.energy.up_kws == 202032 and ctl.energy.down_kws == 0


def test_soc_guard_wins_over_a_discharging_baseline():
    # 200 kW discharging baseline in force, then the SoC reaches the 10 % floor: nothing may
    # be discharged, so the aFRR part must be at most -200 (total <= 0)
    ctl = _bat()
    _at(ctl, 0, 7000)
    o = _at(ctl, ISP, 1000)
    assert o.base_kw == 200
    assert o.lim_up_kw == -200 and o.flags & F_SOC_LIMIT
    assert o.p_set_kw <= 0


def test_remote_setpoint_rides_on_the_baseline():
    ctl = _bat(mode=MODE_REMOTE)
    m = ctl.meas
    _at(ctl, 0, 7000)
    m.remote_sp_kw, m.remote_seq = 300, m.remote_seq + 1
    for k in range(40):  # 300 kW at 11 kW per cycle: 28 cycles
        m.remote_seq += 1
        o = _at(ctl, ISP + k * 4000, 6000)
    assert (o.base_kw, o.p_set_kw) == (200, 500)


def test_state_keeps_the_baseline_across_a_restart():
    a = _bat()
    _at(a, 0, 7000)
    _at(a, ISP, 7000)
    b = _bat()
    assert b.restore(a.state_words())
    assert (b.out.base_kw, b.out.base_next_kw) == (200, 200)
    assert b.state_words() == a.state_words()
    # same ISP after the restart: the baseline in force stays, nothing is re-declared
    o = _at(b, ISP + 4000, 5000)
    assert (o.base_kw, o.base_next_kw) == (200, 200)


def test_target_window_is_the_middle_quarter_of_the_soc_window():
    # SoC window 20..60 %: eighth = 5 %, middle 40 %, target window 35..45 %
    ctl = _bat(cap_kwh=200, soc_min_x100=2000, soc_max_x100=6000)
    assert _at(ctl, 0, 4500).base_next_kw == 0  # on the edge: inside
    # 46 %: 6 % above the middle = 12 kWh of 200 in 0.25 h = 48 kW
    assert _at(ctl, ISP, 4600).base_next_kw == 48
    # 34 % with 48 kW in force: 3400 - 48 * 2500 / 200 = 2800; 12 % low = 24 kWh -> 96 kW
    assert _at(ctl, 2 * ISP, 3400).base_next_kw == -96
