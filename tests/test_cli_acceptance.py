"""`python -m host acceptance`: the CSV and JSON contracts, the table, the plot, one-line errors.

Expected figures are derived by hand from the model (host/metrics/acceptance.py docstring)."""
import json
import subprocess
import sys

import pytest

from host.__main__ import main

G = 1000.0 / 270.0


def _write(path, header, rows):
    path.write_text(header + "\n" + "".join(",".join(str(x) for x in r) + "\n" for r in rows))
    return path


def _late_step(n=900, t0=60, late=60):
    """(t, set-point, measured): 0 -> 1000 kW at t0, the unit `late` s late."""
    return [(t, 1000 if t >= t0 else 0, 1000 if t >= t0 + late else 0) for t in range(n)]


def _run(capsys, *argv):
    code = main(["acceptance", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_says_the_columns_and_the_default_start():
    r = subprocess.run([sys.executable, "-m", "host", "acceptance", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    assert "t_s,setpoint_kw,measured_kw" in r.stdout and "utc,setpoint_kw" in r.stdout
    assert "2026-01-01T01:00:00Z" in r.stdout and "not a product boundary" in r.stdout


def test_json_contract_t_s_columns(tmp_path, capsys):
    f = _write(tmp_path / "a.csv", "t_s,setpoint_kw,measured_kw", _late_step())
    code, out, err = _run(capsys, f, "--json")
    d = json.loads(out)
    # 60 s late: flagged 91..119, allocable 106..119 (14 s), UE = 0.95 (t - 90) G
    assert code == 1 and err == ""
    assert d["passed"] is False and d["charged_seconds"] == 14
    assert d["under_kwh_pos"] == pytest.approx(0.95 * G * 315 / 3600) and d["under_kwh_neg"] == 0
    assert d["accepted_kwh_pos"] == pytest.approx(780 * 1000 / 3600)   # t = 120..899
    assert d["accepted_kwh_neg"] == 0
    assert [q["isp_start_utc"] for q in d["isps"]] == ["2026-01-01T01:00:00Z"]
    assert d["isps"][0]["isp_end_utc"] == "2026-01-01T01:15:00Z"
    assert d["isps"][0]["charged_seconds"] == 14 and d["isps"][0]["passed"] is False
    assert d["prequalification"]["late_reactions"] == 1


def test_utc_column_and_start_anchor_a_product_boundary(tmp_path, capsys):
    # 1000 kW until t = 300, ramping out 1000 -> 10 over 100 s, then 0; the unit drops to 0 at
    # t = 300. With 04:00 UTC at t = 300 that is the product change: nothing owed. Away from a
    # boundary: flagged 300..399, charged 315..399 (85 s), 0.95 * 36550 kW s.
    rows = []
    for t in range(700):
        s = 1000 if t < 300 else (1000 - 10 * (t - 300) if t < 400 else 0)
        rows.append((t, s, 1000 if t < 300 else 0))
    utc = [("2026-03-02T03:%02d:%02dZ" % divmod(55 * 60 + t, 60) if t < 300 else
            "2026-03-02T04:%02d:%02dZ" % divmod(t - 300, 60), s, m) for t, s, m in rows]
    code, out, _ = _run(capsys, _write(tmp_path / "u.csv", "utc,setpoint_kw,measured_kw", utc),
                        "--json")
    d = json.loads(out)
    assert code == 0 and d["passed"] and d["charged_seconds"] == 0
    assert d["start_utc"] == "2026-03-02T03:55:00Z"
    f = _write(tmp_path / "t.csv", "t_s,setpoint_kw,measured_kw", rows)
    code, out, _ = _run(capsys, f, "--json", "--start", "2026-03-02T03:55:00Z")
    assert code == 0 and json.loads(out)["charged_seconds"] == 0
    code, out, _ = _run(capsys, f, "--json")                 # default start: 01:00 UTC
    d = json.loads(out)
    assert code == 1 and d["charged_seconds"] == 85
    assert d["under_kwh_pos"] == pytest.approx(0.95 * 36550 / 3600)


def test_table_and_plot(tmp_path, capsys):
    f = _write(tmp_path / "a.csv", "t_s,setpoint_kw,measured_kw",
               [(t, -s, -m) for t, s, m in _late_step(n=1200)])
    code, out, _ = _run(capsys, f, "--out", tmp_path / "o", "--start", "2026-01-01T01:10:00")
    assert code == 1
    assert "FAILED" in out and "charged 14 s" in out
    lines = [x for x in out.splitlines() if x.strip().startswith("2026-01-01T01:")]
    assert len(lines) == 2                                  # 01:00 (300 s) and 01:15 (900 s)
    assert "FAIL" in lines[0] and lines[1].rstrip().endswith("ok")
    assert (tmp_path / "o" / "acceptance.png").stat().st_size > 1000


@pytest.mark.parametrize("text,where", [
    ("t_s,setpoint_kw,measured_kw\n0,0,0\n1,5,x\n", ":3: measured_kw:"),
    ("t_s,setpoint_kw,measured_kw\n0,0,0\n2,5,5\n", ":3: t_s:"),
    ("t_s,setpoint_kw,measured_kw\n0,0,0\n1.5,5,5\n", ":3: t_s:"),
    ("t_s,setpoint_kw,measured_kw\n0,nan,0\n", ":2: setpoint_kw:"),
    ("t_s,setpoint_kw,measured_kw\n0,1,0,7\n", ":2: row:"),
    ("time,sp,p\n0,1,0\n", ":1: header:"),
    ("utc,setpoint_kw,measured_kw\n2026-01-01T00:00:00Z,0,0\nyesterday,0,0\n", ":3: utc:"),
    ("utc,setpoint_kw,measured_kw\n2026-01-01T00:00:00Z,0,0\n2026-01-01T00:00:03Z,0,0\n",
     ":3: utc:"),
    ("# only a comment\n", ":?: file:"),
    ("", ":?: file:"),
])
def test_bad_file_is_one_line_with_line_and_column(tmp_path, capsys, text, where):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    code, out, err = _run(capsys, f)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and (str(f) + where) in err


def test_bad_start_and_missing_file(tmp_path, capsys):
    f = _write(tmp_path / "a.csv", "t_s,setpoint_kw,measured_kw", [(0, 0, 0), (1, 0, 0)])
    code, _, err = _run(capsys, f, "--start", "noon")
    assert code == 2 and "--start" in err and len(err.strip().splitlines()) == 1
    u = _write(tmp_path / "u.csv", "utc,setpoint_kw,measured_kw", [("2026-01-01T00:00:00Z", 0, 0)])
    code, _, err = _run(capsys, u, "--start", "2026-01-01T00:00:00Z")
    assert code == 2 and "--start" in err
    code, _, err = _run(capsys, tmp_path / "missing.csv")
    assert code == 2 and "missing.csv" in err and len(err.strip().splitlines()) == 1
