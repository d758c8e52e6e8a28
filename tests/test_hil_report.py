# The HIL report: true frequency extremes, the firmware's outputs in timeseries.csv, UTC axes,
# and one self-contained report.html (valid HTML, every figure embedded, nothing external).
import base64
import csv
import html.parser
import json
import pathlib
import shutil
import subprocess

import pytest

from hil.__main__ import main
from host.grid import Simulator

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCENARIO = """
[scenario]
name = "trip"
duration_s = 240
mode = "local"
seed = 1

[grid]
world = "%s"
scenario = "nordbalt_trip"
area = "LT"
step_ms = 100
start_tod_s = 36000

[unit]
band_up_kw = 1000
band_down_kw = 1000
rating_kw = 1000
cap_kwh = 2000

[criteria]
setpoint_violations = { max = 0 }
""" % (ROOT / "host" / "worlds" / "baltic.toml")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    sc = d / "trip.toml"
    sc.write_text(SCENARIO)
    out = d / "out"
    assert main(["run", str(sc), "--target", "cpython", "--out", str(out), "--no-progress"]) == 0
    with open(out / "timeseries.csv") as f:
        rows = list(csv.DictReader(f))
    return out, json.loads((out / "summary.json").read_text()), rows


def _emulator_100ms_min():
    """The LT frequency minimum the emulator reaches at its 100 ms step over the run."""
    sim = Simulator(str(ROOT / "host" / "worlds" / "baltic.toml"), scenario="nordbalt_trip",
                    seed=1, step_ms=100)
    sim.add_unit("dut", "LT")
    sim.start_recording(100)
    sim.advance(240_000)
    rec = sim.recording()
    return float(rec["data"][:, rec["columns"].index("df_mhz_LT")].min()) + 50000.0


def test_summary_has_the_true_nadir(report):
    _out, s, rows = report
    true_min = _emulator_100ms_min()
    # the unit's 1 MW barely moves the LT frequency: within 5 mHz of the unit-less emulator
    assert abs(s["f_min_mhz"] - true_min) <= 5.0
    sampled = min(float(r["f_mhz"]) for r in rows)  # the value at the end of each second
    assert s["f_min_mhz"] < sampled - 20.0  # the 1 s samples miss the nadir by far
    assert s["f_min_mhz"] == pytest.approx(min(float(r["f_min_mhz"]) for r in rows), abs=1e-3)
    assert s["f_max_mhz"] == pytest.approx(max(float(r["f_max_mhz"]) for r in rows), abs=1e-3)


def test_timeseries_carries_envelope_and_firmware_outputs(report):
    _out, s, rows = report
    assert len(rows) == 240
    for col in ("t_s", "f_mhz", "p_set_kw", "p_kw", "soc", "soc_pct", "f_min_mhz",
                "f_mean_mhz", "f_max_mhz", "area_ace_min_kw", "area_ace_max_kw",
                "fw_ace_kw", "fw_frce_kw", "fw_p_pi_kw", "fw_lim_up_kw", "fw_lim_down_kw",
                "fw_flags_bits", "fw_mode", "fw_fault_cycles", "fw_status_bits", "fw_steps"):
        assert col in rows[0], col
    for r in rows:
        lo, mean, hi = float(r["f_min_mhz"]), float(r["f_mean_mhz"]), float(r["f_max_mhz"])
        assert lo <= mean <= hi and lo - 0.5 <= float(r["f_mhz"]) <= hi + 0.5
        assert float(r["area_ace_min_kw"]) <= float(r["area_ace_mean_kw"]) \
            <= float(r["area_ace_max_kw"])
        assert r["fw_p_set_kw"] == r["p_set_kw"]  # the plant follows the firmware's answer
        assert 0 <= int(r["fw_lim_up_kw"]) <= 1000 and 0 <= int(r["fw_lim_down_kw"]) <= 1000
        assert -int(r["fw_lim_down_kw"]) <= int(r["p_set_kw"]) <= int(r["fw_lim_up_kw"])
        assert int(r["fw_mode"]) == 1  # local
        assert float(r["soc_pct"]) == pytest.approx(100 * float(r["soc"]), abs=1e-3)
    # one firmware step per 4 s cycle, its step counter answered in every row of the cycle
    assert [int(r["fw_steps"]) for r in rows[:8]] == [1] * 4 + [2] * 4
    # after the trip the firmware measures a deficit (negative ACE) and pushes upward
    late = rows[120:]
    assert all(int(r["fw_ace_kw"]) < 0 and int(r["fw_p_pi_kw"]) > 0 for r in late)


class _Checker(html.parser.HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.imgs, self.refs = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        for k in ("src", "href"):
            if k in a and not a[k].startswith("data:"):
                self.refs.append(a[k])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("unbalanced </%s> (open: %s)" % (tag, self.stack[-3:]))
        else:
            self.stack.pop()


def test_report_html_is_valid_and_self_contained(report):
    out, s, _rows = report
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    c = _Checker()
    c.feed(text)
    c.close()
    assert c.errors == [] and c.stack == []
    assert c.refs == []  # nothing outside the page: no link, no script, no image file
    assert "http" not in text.replace("http-equiv", "")
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["frce.png", "frequency.png", "setpoint.png", "soc.png",  # clean link
                    "soc_baseline.png"]  # a battery
    assert len(c.imgs) == len(pngs)
    embedded = sorted(base64.b64decode(src.split(",", 1)[1]) for src in c.imgs)
    assert all(src.startswith("data:image/png;base64,") for src in c.imgs)
    assert embedded == sorted((out / p).read_bytes() for p in pngs)
    # what an engineer needs to read the page right
    assert "Link errors: none" in text
    assert "drawn around the firmware&#x27;s own set-point" in text
    assert "setpoint_violations" in text and "band_up_kw" in text
    assert "2026-01-01T10:00:00Z" in text  # the run's UTC anchor: start_tod_s = 36000


def test_plots_have_a_utc_axis_with_isp_grid():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from host.timeaxis import utc_axis
    t0 = 1767225600 + 36000 + 120  # 10:02 UTC
    f, ax = plt.subplots()
    lines = utc_axis(ax, t0, 3600)
    f.canvas.draw()
    labels = [x.get_text() for x in ax.get_xticklabels()]
    assert labels[0] == "10:05" and labels[-1] == "11:00"
    assert lines == [780 + 900 * k for k in range(4)]  # 10:15, 10:30, 10:45, 11:00
    drawn = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_gid() == "isp-grid"]
    assert drawn == lines
    assert "ISP" in ax.get_xlabel() and "2026-01-01" in ax.get_xlabel()
    plt.close(f)
    f, ax = plt.subplots()
    assert len(utc_axis(ax, 1767225600, 86400)) == 25  # a day: hour lines (ticks every 2 h)
    assert "hours" in ax.get_xlabel()
    plt.close(f)


def test_report_renders_in_a_headless_browser(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium installed: the page was checked as HTML only")
    out, _s, _rows = report
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--screenshot=%s" % shot, "--window-size=1200,2000",
                    (out / "report.html").as_uri()], check=True, timeout=120,
                   capture_output=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def _check_page(out, pngs):
    text = (out / "report.html").read_text(encoding="utf-8")
    c = _Checker()
    c.feed(text)
    c.close()
    assert c.errors == [] and c.stack == [] and c.refs == []
    assert sorted(base64.b64decode(src.split(",", 1)[1]) for src in c.imgs) == \
        sorted((out / p).read_bytes() for p in pngs)
    return text


def test_simulate_and_market_write_the_same_page(tmp_path):
    from host.__main__ import main as host_main
    sim = tmp_path / "sim"
    assert host_main(["simulate", str(ROOT / "host" / "worlds" / "baltic.toml"), "--scenario",
                      "nordbalt_trip", "--hours", "0.1", "--out", str(sim), "--quiet"]) == 0
    pngs = sorted(p.name for p in sim.glob("*.png"))
    assert len(pngs) == 5
    text = _check_page(sim, pngs)
    assert "Area LT" in text and "max_abs_df_mhz" in text
    mk = tmp_path / "mk"
    assert host_main(["market", str(ROOT / "host" / "worlds" / "baltic_market.toml"),
                      "--hours", "0.25", "--out", str(mk), "--quiet"]) == 0
    text = _check_page(mk, ["publication.png"])
    # price columns say what they are: averages weighted by demand are not a CBMP that cleared
    assert "cbmp_last_cycle_eur_mwh is the cross-border marginal price" in text
    assert "demand as weights, not prices that cleared" in text
    assert "Unit settlement per ISP" in text
