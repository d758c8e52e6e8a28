# Grid emulator speed, CPU time of this process (time.process_time), one core.
#
# emulator: 24 h of the default world (host/worlds/baltic.toml, normal_day: noise, hourly
# schedule steps, baseline LFC with IGCC netting, on in the default world) at its native 100 ms
# step; the same day without netting beside it.
# emulator_units: the cost of external units (what a HIL rig or a fleet study adds): one hour of
# the same world with N units in LT, each read (unit_measurements) and set (set_unit_power) every
# 4 s cycle, as hil/runner.py does for its unit; cost_ratio_100_to_1 = CPU time with 100 units
# over CPU time with 1, both in this run.
import pathlib
import subprocess
import sys
import time

from bench.target import check
from host.grid import Simulator, load_world

WORLD = pathlib.Path(__file__).resolve().parent.parent / "host/worlds/baltic.toml"
SCENARIO = "normal_day"
STEP_MS = 100
CYCLE_MS = 4000


def _rate(world, hours, netting, step_ms=STEP_MS):
    sim = Simulator(world, scenario=SCENARIO, seed=1, step_ms=step_ms, netting=netting)
    ms = int(hours * 3600_000)
    t0 = time.process_time()
    sim.advance(ms)
    cpu = time.process_time() - t0
    return ms / 1000.0 / cpu, cpu, bool(sim.lfc.netting)


def units_cpu(world, n_units, hours=1.0):
    """CPU s for `hours` of the world with n_units in LT, each read and set every cycle."""
    sim = Simulator(world, scenario=SCENARIO, seed=1, step_ms=STEP_MS)
    names = ["u%03d" % k for k in range(n_units)]
    for name in names:
        sim.add_unit(name, "LT")
    t0 = time.process_time()
    for _ in range(int(hours * 3600_000) // CYCLE_MS):
        for name in names:
            m = sim.unit_measurements(name)
            # a unit answering its area's frequency, 10 kW per 10 mHz
            sim.set_unit_power(name, (50000 - m["f_mhz"]) * 1.0)
        sim.advance(CYCLE_MS)
    return time.process_time() - t0


def import_cpu_s():
    """CPU s a fresh Python spends importing the emulator (host.grid)."""
    code = ("import time; t = time.process_time(); import host.grid; "
            "print(time.process_time() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=WORLD.parent.parent.parent,
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def run(hours=24.0):
    world = load_world(WORLD)
    rate, cpu, netting = _rate(world, hours, netting=True)
    row = {"bench": "emulator", "world": world.name, "step_ms": STEP_MS, "sim_hours": hours,
           "scenario": SCENARIO, "clock": "process_time", "igcc_netting": netting,
           "sim_seconds_per_cpu_second": round(rate), "cpu_s": round(cpu, 2)}
    r0, c0, _ = _rate(world, hours, netting=False)
    row["sim_seconds_per_cpu_second_no_netting"] = round(r0)
    row["cpu_s_no_netting"] = round(c0, 2)
    row["import_cpu_s"] = round(import_cpu_s(), 3)
    check(row, "sim_seconds_per_cpu_second", ">=", 10000)
    check(row, "igcc_netting", "==", True)
    one, hundred = units_cpu(world, 1), units_cpu(world, 100)
    units = {"bench": "emulator_units", "world": world.name, "area": "LT", "sim_hours": 1.0,
             "clock": "process_time", "cpu_s_1_unit": round(one, 3),
             "cpu_s_100_units": round(hundred, 3),
             "cost_ratio_100_to_1": round(hundred / one, 3)}
    check(units, "cost_ratio_100_to_1", "<=", 2.0)
    return [row, units]


if __name__ == "__main__":
    for r in run():
        print(r)
