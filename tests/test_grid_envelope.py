# The envelope of an area's fast signals: per report interval, the extremes and mean over every
# native step, equal to what a recording at the native step shows.
import numpy as np
import pytest

from host.grid import Simulator


@pytest.mark.parametrize("scenario", ["nordbalt_trip", "normal_day"])
def test_envelope_equals_the_native_step_recording(scenario):
    sim = Simulator("host/worlds/baltic.toml", scenario=scenario, seed=3, step_ms=100)
    sim.add_unit("dut", "LT")
    sim.track_envelope("LT")
    sim.start_recording(100)
    env = []
    for _ in range(120):
        sim.advance(1000)
        env.append(sim.take_envelope())
    rec = sim.recording()
    c = rec["columns"]
    f = rec["data"][:, c.index("df_mhz_LT")] + 50000.0  # mHz, every 100 ms step
    ace = rec["data"][:, c.index("ace_mw_LT")] * 1000.0  # kW
    f = f.reshape(120, 10)
    ace = ace.reshape(120, 10)
    np.testing.assert_allclose([e["f_min_mhz"] for e in env], f.min(axis=1), atol=1e-6)
    np.testing.assert_allclose([e["f_max_mhz"] for e in env], f.max(axis=1), atol=1e-6)
    np.testing.assert_allclose([e["f_mean_mhz"] for e in env], f.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose([e["ace_min_kw"] for e in env], ace.min(axis=1), atol=1e-3)
    np.testing.assert_allclose([e["ace_max_kw"] for e in env], ace.max(axis=1), atol=1e-3)
    np.testing.assert_allclose([e["ace_mean_kw"] for e in env], ace.mean(axis=1), atol=1e-3)
    if scenario == "nordbalt_trip":
        # the trip's nadir lies between two 1 s samples: a 1 s sample misses it by far
        sampled = f[:, -1].min()
        assert f.min() < sampled - 20.0
        assert min(e["f_min_mhz"] for e in env) == pytest.approx(f.min())


def test_no_envelope_before_a_step():
    sim = Simulator("host/worlds/two_area.toml", step_ms=100)
    assert sim.take_envelope() is None
    sim.track_envelope(sim.names[0])
    assert sim.take_envelope() is None
    sim.advance(500)
    e = sim.take_envelope()
    assert e["f_min_mhz"] <= e["f_mean_mhz"] <= e["f_max_mhz"]
    assert sim.take_envelope() is None  # taken: starts afresh
