# SO GL Art. 128 FRCE quality: share of time intervals whose FRCE is outside Level 1 / Level 2.
#
# Reading chosen (SO GL leaves the statistic to the LFC block operational agreement): FRCE is
# averaged over consecutive intervals of interval_s (default 900 s = the CE time to restore
# frequency, Annex III); an interval is outside a level when |mean FRCE| > that level. Targets
# (Art. 128): outside Level 1 in < 30 % of intervals, outside Level 2 in < 5 %.
#
# Exact thresholds: each interval mean and each level is rounded to whole watts and compared as
# integers, so a mean that is the level on paper (e.g. 0.1 MW as the float mean of 0.1 MW
# samples, 0.10000000000000002) is not counted outside it.
import numpy as np


def _w(x_mw):
    """Integer watts of MW values."""
    return np.rint(np.asarray(x_mw, dtype=np.float64) * 1e6).astype(np.int64)


def frce_quality(frce_mw, dt_s, l1_mw, l2_mw, interval_s=900.0, target_l1=0.30,
                 target_l2=0.05):
    x = np.asarray(frce_mw, dtype=float)
    per = int(round(interval_s / dt_s))
    if per <= 0:
        raise ValueError("interval_s must be >= dt_s")
    n = len(x) // per
    if n == 0:   # shorter than one interval: judge the partial interval
        means = np.array([x.mean()]) if len(x) else np.zeros(0)
    else:
        means = x[:n * per].reshape(n, per).mean(axis=1)
    k = max(len(means), 1)
    am = np.abs(_w(means))
    out1 = float(np.count_nonzero(am > int(_w(l1_mw)))) / k
    out2 = float(np.count_nonzero(am > int(_w(l2_mw)))) / k
    return {"intervals": int(len(means)), "interval_s": float(interval_s),
            "level1_mw": float(l1_mw), "level2_mw": float(l2_mw),
            "share_outside_level1": out1, "share_outside_level2": out2,
            "level1_ok": out1 < target_l1, "level2_ok": out2 < target_l2,
            "max_abs_frce_mw": float(np.max(np.abs(x))) if len(x) else 0.0}
