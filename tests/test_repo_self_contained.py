# The repository is self-contained: nothing in it points at a folder outside it, and the data
# the world files replay ship under data/ (a fresh clone runs every scenario).
import subprocess

from conftest import ROOT
from host.__main__ import main as host_main
from host.grid import load_world

# written in pieces so that this file does not match itself
OUTSIDE = ("../" + "shared", "shared" + "/domain", "shared" + "/data", "BRIEF" + ".md")
# the CI entry point alone may use a vendored MicroPython source beside the clone, when the CI
# machine has one (the build tool clones the tag otherwise)
CI_ENTRY = ".ci/run"


def test_no_tracked_file_refers_outside_the_repo():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    hits = []
    for name in filter(None, files):
        if name == CI_ENTRY:
            continue
        try:
            text = (ROOT / name).read_text()
        except (UnicodeDecodeError, OSError):
            continue  # binary, or deleted in the work tree
        for no, line in enumerate(text.splitlines(), 1):
            if any(p in line for p in OUTSIDE):
                hits.append("%s:%d: %s" % (name, no, line.strip()))
    assert not hits, "\n".join(hits)


def test_every_world_trace_is_inside_the_repo_and_present():
    root = ROOT.resolve()
    n = 0
    for path in sorted((ROOT / "host" / "worlds").glob("*.toml")):
        if "[areas." not in path.read_text():
            continue  # a market file, not a world
        for sc in load_world(path).scenarios.values():
            if sc.trace:
                p = (ROOT / sc.trace).resolve()
                assert root in p.parents and p.is_file(), (path.name, sc.name, sc.trace)
                assert (p.parent / "README.md").is_file() and (p.parent / "LICENSE").is_file()
                n += 1
    assert n >= 1


def test_simulate_toledo_replay_runs_from_the_repo(tmp_path):
    # what `make simulate GRID_SCENARIO=toledo_replay` runs, shortened
    rc = host_main(["simulate", str(ROOT / "host/worlds/baltic.toml"), "--scenario",
                    "toledo_replay", "--hours", "0.05", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    assert (tmp_path / "metrics.json").is_file()


def test_hil_toledo_scenario_replays_the_shipped_trace():
    # `python -m hil run hil/scenarios/toledo_replay.toml` builds this world first
    import numpy as np

    from hil.scenario import load
    from host.grid import Simulator, load_trace

    sc = load(ROOT / "hil/scenarios/toledo_replay.toml")
    world = load_world(sc.world_path)
    trace = world.scenarios[sc.grid["scenario"]]
    t, f = load_trace(trace.trace, world.f0_hz, trace.trace_until)
    sim = Simulator(str(sc.world_path), scenario=sc.grid["scenario"], step_ms=100)
    sim.advance(10_000)
    want = np.interp(10.0, t, f) * 1000.0
    assert abs(sim.area_state(sc.grid["area"])["f_mhz"] - want) <= 1.0
