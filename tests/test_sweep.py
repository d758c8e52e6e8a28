# Sweeps: the point grid, one table on a local pool and on Dask, failed and killed runs, resume.
import csv
import os
import pathlib
import subprocess
import sys

import pytest

from hil import sweep
from hil.runner import Run, summarize

ROOT = pathlib.Path(__file__).resolve().parent.parent

GRID = """
[sweep]
scenario = "hil/scenarios/stochastic_day.toml"
target = "{target}"
duration_s = 600
metrics = ["passed", "energy_up_kwh", "energy_down_kwh", "p_set_max_kw", "p_set_min_kw"]

[axes]
"unit.kp_q15" = [3277, 16384]
"unit.ti_s" = [50, 200]
"scenario.seed" = [1, 2]

[plot]
heatmap = {{ x = "unit.kp_q15", y = "unit.ti_s", metric = "energy_up_kwh" }}
distribution = "energy_up_kwh"
"""


def _sweep_file(tmp_path, target="cpython", text=GRID, name="grid.toml"):
    p = tmp_path / name
    p.write_text(text.format(target=target))
    return sweep.load(p)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def pool_table(tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    sw = _sweep_file(d)
    rows = sweep.run(sw, d / "out", jobs=2, progress=False)
    return sw, rows, d / "out"


def test_grid_is_the_product_of_the_axes(tmp_path):
    sw = _sweep_file(tmp_path)
    assert len(sw.points) == 8
    assert sw.names == ["unit.kp_q15", "unit.ti_s", "scenario.seed"]
    assert {tuple(p.values()) for p in sw.points} == {
        (k, t, s) for k in (3277, 16384) for t in (50, 200) for s in (1, 2)}
    assert len({sweep.point_id(p) for p in sw.points}) == 8


def test_each_row_is_the_run_of_its_point(pool_table):
    sw, rows, out = pool_table
    assert [r["point"] for r in rows] == list(range(8))
    assert all(r["status"] == "ok" and r["error"] == "" for r in rows), rows
    # the parameters reach the run: the seed changes the noise, the gains change the response
    assert len({r["energy_up_kwh"] for r in rows}) > 4
    # two points run again here, one at a time, give the same numbers as in the table
    for r in (rows[0], rows[7]):
        params = {n: r[n] for n in sw.names}
        run = Run(sweep.build_scenario(sw.path, sw.scenario, params, sw.duration_s),
                  target="cpython", progress=False)
        run.execute()
        summary, _ = summarize(run)
        for m in ("energy_up_kwh", "energy_down_kwh", "p_set_max_kw", "p_set_min_kw"):
            assert r[m] == summary[m], m
        assert summary["config"]["kp_q15"] == params["unit.kp_q15"]
        assert summary["config"]["ti_s"] == params["unit.ti_s"]
    csv_rows = _rows(out / sweep.RESULTS_CSV)
    assert [c for c in csv_rows[0]] == sweep.columns(sw)
    assert [float(c["energy_up_kwh"]) for c in csv_rows] == [r["energy_up_kwh"] for r in rows]
    assert (out / "heatmap.png").stat().st_size > 5000
    assert (out / "distribution.png").stat().st_size > 5000


def test_parquet_holds_the_same_table(pool_table):
    import pyarrow.parquet as pq
    sw, rows, out = pool_table
    t = pq.read_table(out / sweep.RESULTS_PARQUET).to_pylist()
    assert [r["energy_up_kwh"] for r in t] == [r["energy_up_kwh"] for r in rows]
    assert [r["unit.kp_q15"] for r in t] == [r["unit.kp_q15"] for r in rows]
    assert all(r["passed"] is True for r in t)


@pytest.fixture(scope="module")
def dask_client(tmp_path_factory):
    """A two-worker Dask LocalCluster (separate processes, as on several machines)."""
    import dask
    from distributed import Client, LocalCluster
    # the killed-worker test's marker folder: set before the nannies start, so that a worker
    # they restart after a death has it too
    os.environ["AFRR_SWEEP_TEST_DIR"] = str(tmp_path_factory.mktemp("dask-markers"))
    # one task per worker at a time, so a worker's death counts against the task that caused
    # it; a task that kills two workers is given up (KilledWorker)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as lc, Client(lc) as client:
            yield client
    del os.environ["AFRR_SWEEP_TEST_DIR"]


def test_dask_gives_the_same_table_as_the_pool(pool_table, dask_client, tmp_path):
    sw, _rows_pool, out_pool = pool_table
    sweep.run(sw, tmp_path / "dask", dask=dask_client, progress=False)
    assert (tmp_path / "dask" / sweep.RESULTS_CSV).read_bytes() == \
        (out_pool / sweep.RESULTS_CSV).read_bytes()


def test_rig_sweep_matches_the_emulator_only_sweep(pool_table, tmp_path):
    """The same grid through the rig (one MicroPython firmware per run, two workers) gives the
    same numbers as the in-process CPython firmware: the controller is bit-identical."""
    sw_cp, rows_cp, _ = pool_table
    sw = _sweep_file(tmp_path, target="unix")
    rows = sweep.run(sw, tmp_path / "rig", jobs=2, progress=False)
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    for a, b in zip(rows, rows_cp):
        for m in ("energy_up_kwh", "energy_down_kwh", "p_set_max_kw", "p_set_min_kw"):
            assert a[m] == b[m], (a["point"], m)


# -- failures, killed workers, resume --------------------------------------------------------
def _marker_dir():
    return pathlib.Path(os.environ["AFRR_SWEEP_TEST_DIR"])


def flaky_point(task):
    """Dies (like a killed worker) the first time it runs point 1; point 2 dies every time."""
    idx, params, spec = task
    d = _marker_dir()
    if idx == 2 or (idx == 1 and not (d / "died-1").exists()):
        (d / ("died-%d" % idx)).touch()
        os._exit(9)
    (d / ("ran-%d" % idx)).touch()
    return {"point": idx, "point_id": sweep.point_id(params), **params, "status": "ok",
            "error": "", "passed": True, "energy_up_kwh": float(idx), "energy_down_kwh": 0.0,
            "p_set_max_kw": 0, "p_set_min_kw": 0}


SMALL = GRID.replace('"unit.ti_s" = [50, 200]\n', "").replace(
    '"scenario.seed" = [1, 2]\n', "").replace("heatmap = ", "# heatmap = ")


@pytest.mark.parametrize("executor", ["pool", "dask"])
def test_killed_worker_is_retried_or_reported(tmp_path, monkeypatch, executor, request):
    if executor == "dask":
        client = request.getfixturevalue("dask_client")
    else:  # the pool forks its workers from this process
        monkeypatch.setenv("AFRR_SWEEP_TEST_DIR", str(tmp_path))
    text = SMALL.replace('"unit.kp_q15" = [3277, 16384]', '"unit.kp_q15" = [0, 100, 200, 300]')
    sw = _sweep_file(tmp_path, text=text)
    if executor == "pool":
        rows = sweep.run(sw, tmp_path / "out", jobs=2, progress=False, fn=flaky_point)
    else:
        rows = sweep.run(sw, tmp_path / "out", dask=client, progress=False, fn=flaky_point)
    by = {r["point"]: r for r in rows}
    assert sorted(by) == [0, 1, 2, 3]
    assert by[0]["status"] == by[3]["status"] == "ok"
    assert by[1]["status"] == "ok" and by[1]["energy_up_kwh"] == 1.0  # retried after its death
    assert by[2]["status"] == "error" and by[2]["error"]  # died every time: reported
    assert by[2]["passed"] is False
    table = _rows(tmp_path / "out" / sweep.RESULTS_CSV)
    assert [r["status"] for r in table] == ["ok", "ok", "error", "ok"]


def test_failed_run_is_a_row_and_resume_runs_only_what_is_missing(tmp_path):
    text = SMALL.replace("[axes]", '[axes]\n"plant.soc" = [0.5, 2.0]')  # 2.0 is out of range
    sw = _sweep_file(tmp_path, text=text)
    rows = sweep.run(sw, tmp_path / "out", progress=False)
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error"]
    assert "[plant] soc" in rows[2]["error"]
    first = (tmp_path / "out" / sweep.RESULTS_CSV).read_text()
    with pytest.raises(sweep.SweepError, match="--resume"):
        sweep.run(sw, tmp_path / "out", progress=False)
    assert (tmp_path / "out" / sweep.RESULTS_CSV).read_text() == first  # nothing lost

    ran = []

    def counting(task):
        ran.append(task[0])
        return sweep.run_point(task)

    sweep.run(sw, tmp_path / "out", resume=True, progress=False, fn=counting)
    assert ran == [2, 3]  # the failed points only
    # the sweep file is fixed: resume now runs only the points it has not got
    sw2 = _sweep_file(tmp_path, text=text.replace("2.0]", "0.25]"), name="fixed.toml")
    ran.clear()
    rows = sweep.run(sw2, tmp_path / "out", resume=True, progress=False, fn=counting)
    assert ran == [2, 3]
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert [r["point"] for r in rows] == [0, 1, 2, 3]
    assert _rows(tmp_path / "out" / sweep.RESULTS_CSV)[2]["plant.soc"] == "0.25"


def test_world_parameter_reaches_the_run(tmp_path):
    sw = _sweep_file(tmp_path)
    sc = sweep.build_scenario(sw.path, sw.scenario, {"world.areas.LT.k_mw_per_hz": 150.0})
    lt = [a for a in sc.world.areas if a.name == "LT"][0]
    assert lt.k_mw_per_hz == 150.0
    run = Run(sc, target="cpython", progress=False)
    run._build_world()
    assert run.cfg["k_mw_hz"] == 150  # the unit's bias comes from the world
    with pytest.raises(sweep.ScenarioError, match="no key 'XX'"):
        sweep.build_scenario(sw.path, sw.scenario, {"world.areas.XX.k_mw_per_hz": 1.0})


@pytest.mark.parametrize("text,where", [
    ("[sweep]\nscenario = 'hil/scenarios/default.toml'\n[axes]\nfoo = [1]\n", "foo"),
    ("[sweep]\nscenario = 'hil/scenarios/default.toml'\nmetrics = ['nope']\n"
     "[axes]\n'unit.kp_q15' = [1]\n", "nope"),
    ("[sweep]\nscenario = 'hil/scenarios/default.toml'\n[axes]\n'unit.kp_q15' = []\n",
     "unit.kp_q15"),
    ("[sweep]\nscenario = 'hil/scenarios/default.toml'\ntarget = 'qpu'\n"
     "[axes]\n'unit.kp_q15' = [1]\n", "target"),
    ("[sweep]\nscenario = 'hil/scenarios/default.toml'\n[axes]\n'unit.kp_q15' = [1]\n"
     "[plot]\nheatmap = { x = 'unit.kp_q15', y = 'unit.ti_s', metric = 'passed' }\n", "heatmap"),
    ("[sweep\n", "not valid TOML"),
])
def test_bad_sweep_file_is_one_line(tmp_path, text, where):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(sweep.SweepError, match=where) as e:
        sweep.load(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep]\n")
    r = subprocess.run([sys.executable, "-m", "hil", "sweep", str(bad), "--out",
                        str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr
    h = subprocess.run([sys.executable, "-m", "hil", "sweep", "--help"], cwd=ROOT,
                       capture_output=True, text=True)
    assert h.returncode == 0 and "--dask" in h.stdout and "--resume" in h.stdout
