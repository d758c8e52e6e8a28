# Many external units: set-points are summed per area, readings are of the present instant.
import pytest

from host.grid import Simulator

WORLD = "host/worlds/baltic.toml"


def test_hundred_small_units_act_as_one_unit_of_their_sum():
    many = Simulator(WORLD, scenario="quiet", seed=1)
    one = Simulator(WORLD, scenario="quiet", seed=1)
    for k in range(100):
        many.add_unit("u%d" % k, "LT")
    one.add_unit("big", "LT")
    for cycle in range(30):
        p = 5000.0 if cycle < 15 else -2000.0          # kW per small unit
        for k in range(100):
            many.set_unit_power("u%d" % k, p)
        one.set_unit_power("big", 100 * p)
        assert many.area_state("LT")["units_kw"] == one.area_state("LT")["units_kw"] == 100 * p
        many.advance(4000)
        one.advance(4000)
        a, b = many.area_state("LT"), one.area_state("LT")
        assert a["df_mhz"] == pytest.approx(b["df_mhz"], rel=1e-9, abs=1e-9)
        assert a["ace_kw"] == b["ace_kw"]
        assert many.unit_measurements("u7") == one.unit_measurements("big")


def test_readings_follow_the_state_not_a_stale_copy():
    sim = Simulator(WORLD, scenario="quiet", seed=1)
    sim.add_unit("dut", "LT")
    before = sim.unit_measurements("dut")
    st = sim.area_state("LT")
    st["ties"].clear()                                  # a caller's copy: ours is untouched
    sim.set_unit_power("dut", 50_000)                   # 50 MW up: acts from the next advance
    assert sim.unit_measurements("dut") == before
    assert sim.area_state("LT")["units_kw"] == 50_000 and sim.area_state("LT")["ties"]
    sim.advance(4000)
    after = sim.unit_measurements("dut")
    assert after["f_mhz"] > before["f_mhz"]             # a surplus in LT raises the frequency
    assert sum(after["ties_kw"]) > sum(before["ties_kw"])  # and LT exports it
