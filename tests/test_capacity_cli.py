"""`python -m host capacity ...` and `python -m host market ...`: help, output, one-line errors."""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _host(*args):
    return subprocess.run([sys.executable, "-m", "host", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_help_of_each_command():
    for cmd in (["capacity", "--help"], ["capacity", "trm", "--help"],
                ["capacity", "fslimit", "--help"], ["market", "--help"]):
        r = _host(*cmd)
        assert r.returncode == 0 and "usage:" in r.stdout


def test_trm_cli_prints_schedule(tmp_path):
    p = tmp_path / "flows.csv"
    p.write_text("timestamp,border,planned_mw,actual_mw\n" + "".join(
        f"2025-02-{d:02d}T{h:02d}:00Z,LT-PL,100,120\n" for d in range(10, 20) for h in range(24)))
    r = _host("capacity", "trm", str(p), "--month", "2025-03")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("month,border") and lines[1].startswith("2025-03,LT-PL,20.0,0.0")


def test_trm_cli_bad_file_one_line(tmp_path):
    p = tmp_path / "flows.csv"
    p.write_text("timestamp,border,planned_mw,actual_mw\n2025-02-10T00:00Z,LT-PL,1,oops\n")
    r = _host("capacity", "trm", str(p))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and f"{p}:2: field 'actual_mw'" in err[0]


def test_fslimit_cli_json(tmp_path):
    r = _host("capacity", "fslimit", "host/worlds/baltic.toml", "--direction", "import",
              "--tol-mw", "5", "--quiet")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert 0 < out["import"]["limit_mw"] < 2000


def test_market_cli_writes_publication_and_settlement(tmp_path):
    r = _host("market", "host/worlds/baltic_market.toml", "--scenario", "unit_in_money",
              "--hours", "0.5", "--out", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr
    for f in ("publication.csv", "settlement.csv", "summary.json", "publication.png"):
        assert (tmp_path / f).stat().st_size > 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["cycles"] == 450 and s["unit"]["cycles_activated"] > 0
    acc = s["unit"]["acceptance"]                 # the summary states the acceptance verdict
    assert acc["isps"] == 2 and set(acc) >= {"passed", "isps_failed", "charged_seconds",
                                             "under_kwh_pos", "under_kwh_neg"}
    assert "acceptance: " in r.stdout and "ISPs failed" in r.stdout
    pub = (tmp_path / "publication.csv").read_text().splitlines()
    assert len(pub) == 1 + 2 * 15 * 5       # 2 ISPs x 15 minutes x 5 areas


def test_market_cli_unknown_scenario_one_line():
    r = _host("market", "host/worlds/baltic_market.toml", "--scenario", "nope", "--quiet")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "unknown 'nope'" in r.stderr
