# The TSO LFC with IGCC netting (host/market/netting.py): never more activation, never more
# tie capacity than free, and the netted exchange shows in the areas' ACE schedules.
import numpy as np
import pytest

from host.grid import Simulator, load_world


def test_netting_never_increases_activation_nor_exceeds_capacity():
    w = load_world("host/worlds/baltic.toml")
    caps = {(t.a, t.b): (t.cap_ab_mw * 1000, t.cap_ba_mw * 1000) for t in w.ties}
    sim = Simulator(w, scenario="normal_day", seed=11, step_ms=100)
    assert sim.lfc.netting
    netted_cycles = 0
    for _ in range(150):                   # 10 min, one LFC cycle at a time
        sim.advance(4000)
        lfc = sim.lfc
        d, t = lfc.demand, lfc.target
        assert np.all(np.abs(t) <= np.abs(d) + 1e-6)
        assert np.all(t * d >= -1e-9)      # never a sign flip
        for (a, b), kw in lfc.exchange_kw.items():
            ab, ba = caps[(a, b)]
            assert -ba - 1e-3 <= kw <= ab + 1e-3
        assert np.all(lfc.netted_up >= -1e-9) and np.all(lfc.netted_down >= -1e-9)
        # the exchange is balanced: what one area exports another imports
        assert abs(lfc.igcc.sum()) < 1e-6
        if np.any(lfc.igcc != 0):
            netted_cycles += 1
            # activation saved = netted volume, per direction
            saved = np.abs(d) - np.abs(t)
            assert saved.sum() == pytest.approx(lfc.netted_up.sum() + lfc.netted_down.sum(),
                                                abs=1e-3)
    assert netted_cycles > 10


def test_opposite_steps_are_netted_not_counter_activated():
    w = load_world("host/worlds/baltic.toml")
    from host.grid.world import Event, Scenario
    sc = Scenario(name="opp", events=[Event(t_s=1.0, kind="load_step", area="LT", mw=30.0),
                                      Event(t_s=1.0, kind="load_step", area="LV", mw=-30.0)])
    on = Simulator(w, scenario=sc, step_ms=100)
    off = Simulator(w, scenario=sc, step_ms=100, netting=False)
    on.advance(600_000)
    off.advance(600_000)
    act_on = sum(abs(on.area_state(a)["afrr_kw"]) for a in on.names)
    act_off = sum(abs(off.area_state(a)["afrr_kw"]) for a in off.names)
    assert act_off > 50_000             # without netting LT up and LV down both activate
    assert act_on < 0.2 * act_off
    assert abs(on.area_state("LT")["ace_kw"]) < 1000   # the netted exchange is scheduled
