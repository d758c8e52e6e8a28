# Run a scenario for a number of hours with recording (`python -m host simulate`).
import time

from .sim import Simulator
from .world import load_world


def run_scenario(world, scenario, hours=None, seed=1, step_ms=100, record_ms=1000,
                 netting=True, progress=None, chunk_s=60, on_start=None):
    """Returns (sim, recording dict, wall seconds). progress: callable(sim_seconds_done);
    on_start: callable(total_sim_seconds), called once the run length is known (a trace's
    length is known only once the simulator has read it)."""
    if not hasattr(world, "areas"):
        world = load_world(world)
    sim = Simulator(world, scenario=scenario, seed=seed, step_ms=step_ms, netting=netting)
    if hours is None:
        hours = sim.scenario.hours
        if sim.scenario.trace:
            hours = sim.trace_duration_s / 3600.0
    total_ms = int(round(hours * 3600_000 / record_ms)) * record_ms
    if total_ms <= 0:
        raise ValueError("hours: must be > 0 (got %r)" % (hours,))
    sim.start_recording(record_ms)
    if on_start:
        on_start(total_ms / 1000.0)
    chunk = max(record_ms, int(chunk_s * 1000) // record_ms * record_ms)
    t0 = time.perf_counter()
    done = 0
    while done < total_ms:
        ms = min(chunk, total_ms - done)
        sim.advance(ms)
        done += ms
        if progress:
            progress(ms / 1000.0)
    wall = time.perf_counter() - t0
    return sim, sim.recording(), wall
