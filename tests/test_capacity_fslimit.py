"""Frequency-stability limit by bisection over emulator runs of the islanded Baltic block."""
import pathlib

import pytest

from host.capacity.fslimit import FsCriteria, FsResources, fs_limit, island_response, island_world
from host.grid import load_world

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORLD = load_world(ROOT / "host" / "worlds" / "baltic.toml")
FAST = FsCriteria(sim_s=20.0)


def _limit(**kw):
    return fs_limit(WORLD, "LT", res=FsResources(**kw), crit=FAST, upper_mw=1000.0,
                    tol_mw=4.0)["limit_mw"]


def test_initial_rocof_is_loss_over_island_inertia():
    w = island_world(WORLD, {"LT", "LV", "EE"}, FsResources())
    m = sum(2 * a.inertia_h_s * a.base_mw / WORLD.f0_hz for a in w.areas)   # MW s/Hz
    _, rocof = island_response(w, "LT", 50.0, FAST)
    assert rocof == pytest.approx(50.0 / m, rel=0.05)   # FCR and D barely act in 500 ms


def test_verdict_is_monotone_in_the_lost_exchange():
    w = island_world(WORLD, {"LT", "LV", "EE"}, FsResources())
    devs = [island_response(w, "LT", p, FAST)[0] for p in (10, 40, 80, 160)]
    assert devs == sorted(devs)


@pytest.mark.parametrize("knob", ["inertia_scale", "fcr_scale"])
def test_limit_monotone_in_inertia_and_fcr(knob):
    limits = [_limit(**{knob: s}) for s in (0.5, 1.0, 2.0, 4.0)]
    assert limits == sorted(limits)
    assert limits[-1] > limits[0]     # and it does matter


def test_battery_headroom_raises_the_limit_and_criteria_bind():
    base = fs_limit(WORLD, "LT", crit=FAST, upper_mw=1000.0, tol_mw=2.0)
    more = fs_limit(WORLD, "LT", res=FsResources(battery_mw={"LT": 200.0}), crit=FAST,
                    upper_mw=1000.0, tol_mw=2.0)
    assert more["limit_mw"] > base["limit_mw"] + 50.0
    for r in (base, more):
        assert r["max_dev_mhz"] <= FAST.max_dev_mhz and r["rocof_hz_s"] <= FAST.rocof_hz_s
    # at the limit + 2 tolerances the island fails
    w = island_world(WORLD, {"LT", "LV", "EE"}, FsResources())
    dev, rocof = island_response(w, "LT", base["limit_mw"] + 4.0, FAST)
    assert dev > FAST.max_dev_mhz or rocof > FAST.rocof_hz_s


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown area"):
        island_world(WORLD, {"LT", "XX"}, FsResources())
    with pytest.raises(ValueError, match="direction"):
        fs_limit(WORLD, "LT", direction="sideways")
    with pytest.raises(ValueError, match="not in the island"):
        island_world(WORLD, {"LT"}, FsResources(battery_mw={"PL": 10.0}))
