# Battery and flexible-load plant: energy bookkeeping with efficiencies, limits, delay, errors.
import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.plant import Battery, FlexLoad, PlantError


def test_soc_integrates_discharge_and_charge_with_efficiencies():
    b = Battery(rating_kw=1000, cap_kwh=2000, soc=0.5, eta_ch=0.9, eta_dis=0.95, delay_s=0,
                ramp_kw_s=1e6, aux_kw=2)
    for _ in range(3600):
        assert b.step(500, 1.0) == pytest.approx(500)
    # 500 kWh delivered costs 500/0.95 kWh stored, plus 2 kWh auxiliaries
    assert b.energy_kwh == pytest.approx(1000 - 500 / 0.95 - 2, abs=1e-6)
    e1 = b.energy_kwh
    for _ in range(1800):
        assert b.step(-400, 2.0) == pytest.approx(-400)
    # 400 kW for 1 h charging stores 400 * 0.9 kWh, minus 2 kWh auxiliaries
    assert b.energy_kwh == pytest.approx(e1 + 400 * 0.9 - 2, abs=1e-6)
    assert b.soc == pytest.approx(b.energy_kwh / 2000)


def test_energy_limits_cut_power_and_hold_soc_bounds():
    b = Battery(rating_kw=1000, cap_kwh=100, soc=0.2, eta_ch=0.95, eta_dis=0.95, delay_s=0,
                ramp_kw_s=1e6, aux_kw=0, soc_min=0.1, soc_max=0.9)
    out = [b.step(1000, 10.0) for _ in range(10)]
    assert b.soc == pytest.approx(0.1)
    assert out[-1] == 0 and b.limited
    assert sum(out) * 10 / 3600 == pytest.approx(10 * 0.95)   # 10 kWh above min, 95 % out
    for _ in range(100):
        b.step(-1000, 10.0)
    assert b.soc == pytest.approx(0.9)


def test_delay_and_ramp():
    b = Battery(rating_kw=1000, cap_kwh=2000, delay_s=1.0, ramp_kw_s=100, aux_kw=0)
    p = [b.step(1000, 0.1) for _ in range(40)]
    assert p[8] == 0.0            # nothing before 1 s
    assert p[9] == pytest.approx(10.0)   # then 100 kW/s
    assert p[39] == pytest.approx(310.0)
    assert all(q <= 1000 for q in p)


@pytest.mark.parametrize("field,kw", [
    ("cap_kwh", {"cap_kwh": -1}), ("cap_kwh", {"cap_kwh": 0}),
    ("eta_ch", {"eta_ch": 1.2}), ("eta_dis", {"eta_dis": 0}),
    ("rating_kw", {"rating_kw": -5}), ("soc", {"soc": 1.5}),
    ("aux_kw", {"aux_kw": -1}), ("ramp_kw_s", {"ramp_kw_s": 0}),
    ("soc_max", {"soc_min": 0.5, "soc_max": 0.4}), ("delay_s", {"delay_s": float("nan")}),
])
def test_bad_physics_names_the_field(field, kw):
    with pytest.raises(PlantError) as e:
        Battery(**kw)
    assert e.value.field == field
    assert field in str(e.value)


@given(st.lists(st.tuples(st.floats(-1500, 1500), st.sampled_from([0.1, 1.0, 4.0])),
                min_size=1, max_size=200),
       st.floats(0.0, 1.0))
def test_energy_balance_property(seq, soc0):
    b = Battery(rating_kw=1000, cap_kwh=50, soc=soc0, eta_ch=0.9, eta_dis=0.8, delay_s=0.5,
                ramp_kw_s=300, aux_kw=1)
    e = b.energy_kwh
    for p_set, dt in seq:
        p = b.step(p_set, dt)
        h = dt / 3600
        e -= (p / 0.8 if p > 0 else p * 0.9) * h + 1 * h
        e = max(e, 0.0)
        assert -1000 - 1e-9 <= p <= 1000 + 1e-9
        assert -1e-9 <= b.soc <= 1 + 1e-9
        assert b.energy_kwh == pytest.approx(e, abs=1e-9)


def test_flex_load_stays_in_bounds():
    f = FlexLoad(baseline_kw=1000, min_kw=200, max_kw=1500, delay_s=0, ramp_kw_s=1e6)
    assert f.step(2000, 1.0) == pytest.approx(800)     # can shed only down to 200 kW
    assert f.load_kw == pytest.approx(200)
    assert f.step(-2000, 1.0) == pytest.approx(-500)   # can add only up to 1500 kW
    with pytest.raises(PlantError) as e:
        FlexLoad(baseline_kw=3000, max_kw=2000)
    assert e.value.field == "baseline_kw"
