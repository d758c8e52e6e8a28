# World files, trace replay and the `python -m host simulate` CLI: errors name file, line, field.
import json
import pathlib
import re
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.__main__ import main as host_main
from host.grid import Simulator, TraceError, WorldError, load_trace, load_world
from host.grid.world import world_from_dict

ROOT = pathlib.Path(__file__).resolve().parent.parent
TWO = ROOT / "host/worlds/two_area.toml"
BALTIC = ROOT / "host/worlds/baltic.toml"
TOLEDO = ROOT / "data/traces/toledo-blackout-2025-04-28/toledo-2025-04-28.csv"


def _line_of(text, needle):
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_every_world_parameter_has_a_source_or_assumed():
    # a source is one of the short names docs/SOURCES.md lists (in bold)
    sources = re.findall(r"^- \*\*([^*]+)\*\*", (ROOT / "docs/SOURCES.md").read_text(), re.M)
    assert {"SO GL", "Elgerd", "Litgrid"} <= set(sources)
    for path in (TWO, BALTIC):
        section = ""
        for no, line in enumerate(path.read_text().splitlines(), 1):
            s = line.strip()
            if s.startswith("["):
                section = s
                continue
            if not s or s.startswith("#") or "=" not in s or section.startswith("[scenarios"):
                continue
            key = s.split("=", 1)[0].strip()
            if key in ("name", "description", "a", "b", "area", "events", "trace", "kind"):
                continue
            comment = line.split("#", 1)[1] if "#" in line else ""
            assert "assumed" in comment or any(s in comment for s in sources), \
                "%s:%d: %s has no source" % (path.name, no, key)


@pytest.mark.parametrize("old,new,field,msg,needle", [
    ("inertia_h_s = 4.0               # assumed\nd_mw_per_hz = 15.0",
     "inertia_h_s = -4.0\nd_mw_per_hz = 15.0", "areas.LT.inertia_h_s", "must be in",
     "inertia_h_s = -4.0"),
    ("tg_s = 0.5                      # assumed\ntt_s = 6.0                      # assumed\n"
     "afrr_up_mw = 120.0", "tg_s = 0.5\ntt_s = \"slow\"\nafrr_up_mw = 120.0",
     "areas.LT.tt_s", "must be a number", 'tt_s = "slow"'),
    ("base_mw = 1500.0", "base_mw = 1500.0\nbase_mv = 3.0", "areas.LT.base_mv", "unknown field",
     "base_mv"),
    ('b = "LV"', 'b = "LX"', "ties.2.b", "unknown area", 'b = "LX"'),
    ('kind = "hvdc_trip", link = "nordbalt"', 'kind = "hvdc_trip", link = "nordbolt"',
     "scenarios.nordbalt_trip.events.0.link", "unknown hvdc link", "nordbolt"),
])
def test_bad_world_names_file_line_field(tmp_path, old, new, field, msg, needle):
    text = BALTIC.read_text()
    assert old in text
    bad = text.replace(old, new, 1)
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    with pytest.raises(WorldError) as e:
        load_world(p)
    s = str(e.value)
    assert s.startswith("%s:" % p)
    assert field in s and msg in s
    assert e.value.line == _line_of(bad, needle), s


def test_syntax_error_and_missing_field(tmp_path):
    p = tmp_path / "w.toml"
    p.write_text('[world]\nname = "x"\n[areas.A]\nbase_mw = = 3\n')
    with pytest.raises(WorldError) as e:
        load_world(p)
    assert e.value.line == 4
    p.write_text('[world]\nname = "x"\n[areas.A]\nbase_mw = 3.0\n')
    with pytest.raises(WorldError) as e:
        load_world(p)
    assert "inertia_h_s" in str(e.value) and e.value.line == 3


def test_unknown_scenario():
    with pytest.raises(WorldError, match="unknown 'nope'"):
        Simulator(load_world(TWO), scenario="nope")


def test_trace_formats_and_garbage(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("timestamp,hz\n0,50.0\n2,50.01\n\n# gap\n4,49.99\n")
    t, f = load_trace(p)
    assert list(t) == [0, 2, 4] and list(f) == [50.0, 50.01, 49.99]
    p.write_text("2025-04-28T09:00:00Z,50.0\n2025-04-28T09:00:02Z,50.02\n")   # no header
    t, f = load_trace(p)
    assert list(t) == [0, 2]
    for body, line, col in [
        ("utc,f_hz\n0,50\n2,fifty\n", 3, "hz"),
        ("utc,f_hz\n0,50\nyesterday,50\n", 3, "time"),
        ("utc,f_hz\n0,50\n0,50.1\n", 3, "time"),
        ("utc,f_hz\n0,50\n2,nan\n", 3, "hz"),
        ("utc,f_hz\n0,50\n2,50,1\n", 3, "row"),
        ("utc,f_hz\n0,50\n2,40.0\n", 3, "hz"),
    ]:
        p.write_text(body)
        with pytest.raises(TraceError) as e:
            load_trace(p)
        assert e.value.line == line and e.value.field == col, str(e.value)
        assert str(e.value).startswith("%s:%d: %s:" % (p, line, col))


def test_toledo_replay_imposes_frequency_and_flows_follow():
    t, f = load_trace(TOLEDO, 50.0, "2025-04-28T10:33:14Z")
    assert len(t) == 2790 and f.min() >= 49.9
    with pytest.raises(TraceError) as e:
        load_trace(TOLEDO)    # the dead-bus artefacts (40 Hz) are refused, with the line
    assert e.value.line is not None
    w = load_world(BALTIC)
    sim = Simulator(w, scenario="toledo_replay", step_ms=100)
    sim.start_recording(1000)
    sim.advance(600_000)
    rec = sim.recording()
    col = {c: rec["data"][:, i] for i, c in enumerate(rec["columns"])}
    want = (np.interp(col["t_s"], t, f) - 50.0) * 1000.0
    for a in sim.names:
        assert np.max(np.abs(col["df_mhz_" + a] - want)) < 1e-6
    # the Baltic areas respond to CE's frequency with their own FCR and export it; their
    # ACE stays small (K close to their response), the slack CE covers the rest
    for a in ("LT", "LV", "EE"):
        assert np.max(np.abs(col["ace_mw_" + a])) < 5.0
    assert np.std(col["tie_mw_LT-PL"]) > 0.1


def test_cli_simulate_writes_outputs(tmp_path):
    rc = host_main(["simulate", str(TWO), "--scenario", "step_lfc", "--hours", "0.05",
                    "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["scenario"] == "step_lfc" and m["sim_seconds"] == pytest.approx(180.0)
    for f in ("timeseries.csv", "frequency.png", "ace.png", "ties.png", "afrr.png",
              "netting.png", "elia_minutes_area1.csv"):
        assert (tmp_path / f).stat().st_size > 0, f
    head = (tmp_path / "timeseries.csv").read_text().splitlines()
    assert head[0].startswith("t_s,df_mhz_area1") and len(head) == 181
    a1 = m["areas"]["area1"]
    assert a1["frequency_annex3"]["max_abs_df_mhz"] > 5
    assert a1["afrr_up_mwh"] > 0


def test_cli_bad_file_is_one_line_no_traceback(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(TWO.read_text().replace("tg_s = 0.08", "tg_s = -0.08", 1))
    r = subprocess.run([sys.executable, "-m", "host", "simulate", str(p), "--out",
                        str(tmp_path / "o"), "--quiet"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert "bad.toml:%d: areas.area1.tg_s" % _line_of(p.read_text(), "tg_s = -0.08") \
        in lines[0]
    r = subprocess.run([sys.executable, "-m", "host", "simulate", "--help"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "--scenario" in r.stdout and "--hours" in r.stdout


def test_single_area_world_frce_is_frequency_deviation(tmp_path):
    p = tmp_path / "one.toml"
    p.write_text('[world]\nname = "one"\n[areas.Z]\nbase_mw = 1000.0\ninertia_h_s = 5.0\n'
                 'd_mw_per_hz = 10.0\nfcr_gain_mw_per_hz = 90.0\ntg_s = 0.5\ntt_s = 5.0\n'
                 'afrr_up_mw = 50.0\nafrr_down_mw = 50.0\n'
                 '[scenarios.s]\nevents = [{ t_s = 0.0, kind = "load_step", area = "Z", '
                 'mw = 10.0 }]\n')
    sim = Simulator(load_world(p), scenario="s", lfc=False)
    sim.advance(120_000)
    st = sim.area_state("Z")
    assert st["df_mhz"] == pytest.approx(-100.0, rel=0.01)
    assert st["ace_kw"] == pytest.approx(100 * -100, rel=0.01)    # ACE = K df, no ties
    assert st["ties"] == {}


_VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**9, 10**9),
                    st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["base_mw", "inertia_h_s", "tg_s", "fcr_max_mw", "frce_l2_mw",
                        "afrr_fat_s", "lfc_tr_s", "noise_tau_s", "bogus"]), _VALUES)
def test_world_loader_fuzz_only_world_errors(field, value):
    data = tomllib.loads(TWO.read_text())
    data["areas"]["area2"][field] = value
    try:
        w = world_from_dict(data, "fuzz.toml")
    except WorldError as e:
        assert "areas.area2." + field in str(e)
        return
    Simulator(w, scenario="step_primary").advance(4000)


def test_cli_trace_option_replays_and_rejects_garbage(tmp_path, capsys):
    p = tmp_path / "f.csv"
    p.write_text("timestamp,hz\n0,50.0\n60,49.95\n120,50.02\n")
    rc = host_main(["simulate", str(TWO).replace("two_area", "baltic"), "--trace", str(p),
                    "--out", str(tmp_path / "o"), "--quiet", "--no-plots"])
    assert rc == 0
    m = json.loads((tmp_path / "o/metrics.json").read_text())
    assert m["scenario"] == "trace" and m["sim_seconds"] == pytest.approx(120.0)
    assert m["areas"]["LT"]["frequency_annex3"]["max_abs_df_mhz"] == pytest.approx(50.0, abs=1)
    p.write_text("timestamp,hz\n0,50.0\n60,49.95\nbad,1\n")
    rc = host_main(["simulate", str(BALTIC), "--trace", str(p), "--out", str(tmp_path / "o"),
                    "--quiet", "--no-plots"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0] == "error: %s:4: time: not a number or ISO 8601 time: 'bad'" % p


def test_fcr_full_activation_within_30_s_at_200_mhz(tmp_path):
    # SO GL Annex V: FCR fully activated within 30 s at -200 mHz; replay imposes the step
    p = tmp_path / "step.csv"
    p.write_text("t_s,f_hz\n0,50.0\n1,50.0\n1.1,49.8\n100,49.8\n")
    w = load_world(BALTIC)
    from host.grid.world import Scenario
    sim = Simulator(w, scenario=Scenario(name="s", trace=str(p), lfc=False))
    sim.advance(1000)
    assert sim.area_state("LT")["fcr_kw"] == 0
    sim.advance(30_100)
    for a in w.areas:
        got = sim.area_state(a.name)["fcr_kw"] / 1000.0
        assert 0.95 * a.fcr_max_mw <= got <= a.fcr_max_mw + 1e-6, (a.name, got)


def test_dispatcher_table_modules_follow_the_protocol():
    import importlib

    from host.__main__ import SUBCOMMANDS
    assert SUBCOMMANDS["simulate"] == "host.cli_simulate"
    for name, modname in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError:
            continue      # another engineer's subcommand not written yet
        assert isinstance(mod.HELP, str) and callable(mod.configure) and callable(mod.main)
