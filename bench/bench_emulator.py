# Grid emulator speed: 24 h of the Baltic world at 100 ms steps, baseline LFC, noise, one core.
# The headline is the default world's normal operation, and that includes IGCC netting (on in
# the default world: every 4 s cycle with opposite demands calls host.market.netting.net, an
# LP); the same day without netting is reported beside it.
import pathlib
import time

from host.grid import Simulator, load_world

WORLD = pathlib.Path(__file__).resolve().parent.parent / "host/worlds/baltic.toml"
SCENARIO = "normal_day"
STEP_MS = 100


def _rate(world, hours, netting, step_ms=STEP_MS):
    sim = Simulator(world, scenario=SCENARIO, seed=1, step_ms=step_ms, netting=netting)
    ms = int(hours * 3600_000)
    t0 = time.perf_counter()
    sim.advance(ms)
    wall = time.perf_counter() - t0
    return ms / 1000.0 / wall, wall, bool(sim.lfc.netting)


def run(hours=24.0):
    world = load_world(WORLD)
    rate, wall, netting = _rate(world, hours, netting=True)
    row = {"bench": "emulator", "world": world.name, "step_ms": STEP_MS, "sim_hours": hours,
           "sim_seconds_per_wall_second": round(rate), "wall_s": round(wall, 2),
           "scenario": SCENARIO, "igcc_netting": netting}
    if netting:
        r0, w0, _ = _rate(world, hours, netting=False)
        row["sim_seconds_per_wall_second_no_netting"] = round(r0)
        row["wall_s_no_netting"] = round(w0, 2)
    return [row]


if __name__ == "__main__":
    for r in run():
        print(r)
