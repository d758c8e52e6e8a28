# Grid emulator speed: 24 h of the Baltic world at 100 ms steps, baseline LFC, noise, one core.
import pathlib
import time

from host.grid import Simulator, load_world
from host.grid.lfc import netting_available

WORLD = pathlib.Path(__file__).resolve().parent.parent / "host/worlds/baltic.toml"


def _rate(world, hours, netting, step_ms=100):
    sim = Simulator(world, scenario="normal_day", seed=1, step_ms=step_ms, netting=netting)
    ms = int(hours * 3600_000)
    t0 = time.perf_counter()
    sim.advance(ms)
    wall = time.perf_counter() - t0
    return ms / 1000.0 / wall, wall


def run(hours=24.0, netting_hours=2.0):
    world = load_world(WORLD)
    rate, wall = _rate(world, hours, netting=False)
    row = {"bench": "emulator", "world": world.name, "step_ms": 100, "sim_hours": hours,
           "sim_seconds_per_wall_second": round(rate), "wall_s": round(wall, 2),
           "scenario": "normal_day", "igcc_netting": False}
    if netting_available():
        # with IGCC netting every 4 s cycle calls host.market.netting.net (an LP)
        r2, w2 = _rate(world, netting_hours, netting=True)
        row["sim_seconds_per_wall_second_with_netting"] = round(r2)
        row["netting_sim_hours"] = netting_hours
    return [row]


if __name__ == "__main__":
    for r in run():
        print(r)
