# Battery state-of-charge management in a HIL run: participation factor, time at the SoC guard,
# share of ISPs passing the acceptance model (on delivered minus baseline), equivalent full
# cycles, and the SoC plot.
import math

from afrr.controller import F_SOC_LIMIT

ISP_S = 900


def share_ppm(unit_band_kw, area_band_mw):
    """Participation factor in ppm: the unit's band over its area's contracted aFRR band.

    A unit that runs its own PI on the area's FRCE in local mode delivers the area's whole
    demand unless it is scaled: each provider's share of an area's aFRR activation is its
    contracted band over the area's (pro-rata activation), so the FRCE it acts on is
    share * FRCE. Clamped to 1..10**6 (regmap.FIELDS share_ppm).
    """
    if not area_band_mw > 0:
        return 1000000
    v = int(round(unit_band_kw * 1000.0 / area_band_mw))
    return max(1, min(1000000, v))


def guard_share(steps):
    """Share of answered control steps in which the SoC guard narrowed an aFRR limit below
    the band (controller flag F_SOC_LIMIT): the unit could not offer its full band."""
    outs = [s["out"] for s in steps if s["out"] is not None]
    if not outs:
        return None
    return sum(1 for o in outs if o["flags"] & F_SOC_LIMIT) / len(outs)


def cycles_per_day(samples, cap_kwh):
    """Equivalent full cycles per day: energy through the grid connection (charge + discharge,
    kWh, 1 s samples) / (2 * usable capacity) / days."""
    if not samples or not cap_kwh > 0:
        return None
    thr = sum(abs(s["p_kw"]) for s in samples) / 3600.0
    days = len(samples) / 86400.0
    return thr / (2.0 * cap_kwh) / days


def isp_share(acc):
    """(whole ISPs judged, ISPs passed) from an AcceptanceResult (host.metrics.evaluate): an ISP
    passes when none of its seconds is charged as allocable under-fulfilment; an ISP the run
    covers only in part is not judged."""
    if acc is None:
        return 0, 0
    whole = [q for q in acc.isps if q["seconds"] == ISP_S]
    return len(whole), sum(1 for q in whole if q["passed"])


def summary(run, cfg, acc):
    """The SoC-management figures of a run (all None for a flexible load)."""
    judged, passed = isp_share(acc)
    bat = cfg["unit_type"] == 0
    bases = [s.get("base_kw", 0) for s in run.samples]
    return {
        "share_ppm": cfg["share_ppm"],
        "soc_guard_share": round(guard_share(run.steps), 4) if bat and run.steps else None,
        "cycles_per_day": round(cycles_per_day(run.samples, cfg["cap_kwh"]), 3)
        if bat and run.samples else None,
        "acceptance_isps_whole": judged,
        "acceptance_isps_whole_passed": passed,
        "acceptance_isp_share": round(passed / judged, 4) if judged else None,
        "baseline_max_abs_kw": max((abs(b) for b in bases), default=0),
        "baseline_energy_up_kwh": round(sum(max(0, b) for b in bases) / 3600.0, 3),
        "baseline_energy_down_kwh": round(sum(max(0, -b) for b in bases) / 3600.0, 3),
    }


def guard_band_pct(cfg):
    """(low, high) SoC in % below/above which the guard narrows the full band (controller
    _soc_limits: headroom over one cycle + FAT at the band's power)."""
    h_h = (cfg["cycle_ms"] / 1000.0 + cfg["fat_s"]) / 3600.0
    cap = cfg["cap_kwh"]
    lo = cfg["soc_min_x100"] / 100.0 + 100.0 * cfg["band_up_kw"] * h_h \
        / (cfg["eta_dis_pm"] / 1000.0) / cap
    hi = cfg["soc_max_x100"] / 100.0 - 100.0 * cfg["band_down_kw"] * h_h \
        * (cfg["eta_ch_pm"] / 1000.0) / cap - 0.01
    return lo, hi


def plot(run, cfg, out):
    """soc_baseline.png: SoC with the SoC window, the guard band and the target window; the
    baseline in force per ISP below. Returns the file name."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = run.samples
    t_h = [x["t_s"] / 3600.0 for x in s]
    f, (ax, bx) = plt.subplots(2, 1, figsize=(9, 5), sharex=True,
                               gridspec_kw={"height_ratios": [2, 1]})
    lo, hi = cfg["soc_min_x100"] / 100.0, cfg["soc_max_x100"] / 100.0
    g_lo, g_hi = guard_band_pct(cfg)
    w = (hi - lo) / 8.0
    ax.axhspan(lo, g_lo, color="tab:red", alpha=0.15, label="guard band (band narrowed)")
    ax.axhspan(g_hi, hi, color="tab:red", alpha=0.15)
    ax.axhspan(lo + 3 * w, lo + 5 * w, color="tab:green", alpha=0.12, label="target window")
    ax.axhline(lo, color="tab:red", lw=0.8)
    ax.axhline(hi, color="tab:red", lw=0.8)
    ax.plot(t_h, [100 * x["soc"] for x in s], lw=1, label="SoC")
    ax.set_ylabel("SoC [%]")
    ax.set_ylim(0, 100)
    ax.set_title("State of charge and the declared baseline")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    bx.step(t_h, [x.get("base_kw", 0) for x in s], where="post", lw=1, color="tab:purple",
            label="baseline in force (+ = discharge)")
    bx.set_ylabel("kW")
    bx.set_xlabel("t [h]")
    bx.grid(alpha=0.3)
    bx.legend(loc="best", fontsize=8)
    f.tight_layout()
    f.savefig(out / "soc_baseline.png", dpi=90)
    plt.close(f)
    return "soc_baseline.png"


def markdown(summary):
    """Report lines for the SoC-management figures (empty without a battery)."""
    if summary.get("soc_guard_share") is None:
        return []
    pct = summary["acceptance_isp_share"]
    return ["", "## State of charge and baseline", "",
            "| figure | value |", "|---|---|",
            "| participation factor | %d ppm |" % summary["share_ppm"],
            "| time at the SoC guard | %.2f %% |" % (100 * summary["soc_guard_share"]),
            "| ISPs passing the acceptance check (delivered - baseline) | %d of %d (%s) |" % (
                summary["acceptance_isps_whole_passed"], summary["acceptance_isps_whole"],
                "n/a" if pct is None or math.isnan(pct) else "%.1f %%" % (100 * pct)),
            "| equivalent full cycles per day | %.3f |" % summary["cycles_per_day"],
            "| largest baseline | %d kW |" % summary["baseline_max_abs_kw"],
            "", "![soc_baseline](soc_baseline.png)"]
