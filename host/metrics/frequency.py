# SO GL Annex III frequency quality (Continental Europe) from a frequency-deviation series.
#
# standard range +-50 mHz, maximum instantaneous deviation 800 mHz, maximum steady-state
# deviation 200 mHz, time to restore frequency 15 min, alert-state trigger 5 min (Annex III).
# RoCoF: |df(t) - df(t - w)| / w over a sliding window w (default 500 ms, assumed); the window
# is a whole number of samples (at least one), so data coarser than the window give a longer
# one: the result reports the window it used (rocof_window_s) beside the one asked for.
# An "excursion" is a continuous stretch outside the standard range; its length is the time to
# restore; excursions longer than the alert trigger are counted.
#
# Exact thresholds: df is compared with the limits in integer micro-hertz, after rounding each
# sample to 1 uHz (far below the 10 mHz measurement accuracy of Annex V, far above the rounding
# of a float32 sample, about 0.06 uHz at 1 Hz), so a df of exactly 50 mHz stored as float32 is
# inside +-50 mHz, as it is on paper.
import numpy as np

UHZ_PER_HZ = 1_000_000


def _uhz(x_hz):
    """Integer micro-hertz of frequency values (any float dtype)."""
    return np.rint(np.asarray(x_hz, dtype=np.float64) * UHZ_PER_HZ).astype(np.int64)


def _uhz_of_mhz(x_mhz):
    return int(round(float(x_mhz) * 1000))


def _runs(mask):
    """(start, length) of every run of True."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    return starts, ends - starts


def frequency_quality(df_hz, dt_s, standard_mhz=50.0, max_inst_mhz=800.0, max_ss_mhz=200.0,
                      restore_s=900.0, alert_s=300.0, rocof_window_s=0.5):
    u = _uhz(df_hz)                                  # micro-hertz, exact integers
    if len(u) == 0:
        raise ValueError("empty frequency series")
    if not dt_s > 0:
        raise ValueError("dt_s must be > 0")
    a = np.abs(u)
    out_std = a > _uhz_of_mhz(standard_mhz)
    starts, lens = _runs(out_std)
    w = max(1, int(round(rocof_window_s / dt_s)))
    if len(u) > w:   # no threshold here: the float values, unrounded
        f = np.asarray(df_hz, dtype=np.float64)
        rocof = float(np.max(np.abs(f[w:] - f[:-w]))) / (w * dt_s)
    else:
        rocof = 0.0
    longest = float(lens.max() * dt_s) if len(lens) else 0.0
    peak = int(a.max())
    return {"samples": int(len(u)), "dt_s": float(dt_s),
            "minutes_outside_standard": float(np.count_nonzero(out_std) * dt_s / 60.0),
            "max_abs_df_mhz": peak / 1000.0,
            "mean_df_mhz": float(np.mean(u)) / 1000.0, "std_df_mhz": float(np.std(u)) / 1000.0,
            "max_rocof_hz_s": float(rocof),
            "rocof_window_s": float(w * dt_s),
            "rocof_window_requested_s": float(rocof_window_s),
            "excursions": int(len(lens)),
            "longest_excursion_s": longest,
            "time_to_restore_ok": longest <= restore_s,
            "excursions_over_alert_trigger": int(np.count_nonzero(lens * dt_s > alert_s)),
            "seconds_over_steady_state_limit": float(np.count_nonzero(
                a > _uhz_of_mhz(max_ss_mhz)) * dt_s),
            "max_instantaneous_ok": peak <= _uhz_of_mhz(max_inst_mhz)}
