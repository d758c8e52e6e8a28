# SO GL Annex III frequency quality (Continental Europe) from a frequency-deviation series.
#
# standard range +-50 mHz, maximum instantaneous deviation 800 mHz, maximum steady-state
# deviation 200 mHz, time to restore frequency 15 min, alert-state trigger 5 min (Annex III).
# RoCoF: |df(t) - df(t - w)| / w over a sliding window w (default 500 ms, assumed).
# An "excursion" is a continuous stretch outside the standard range; its length is the time to
# restore; excursions longer than the alert trigger are counted.
import numpy as np


def _runs(mask):
    """(start, length) of every run of True."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    return starts, ends - starts


def frequency_quality(df_hz, dt_s, standard_mhz=50.0, max_inst_mhz=800.0, max_ss_mhz=200.0,
                      restore_s=900.0, alert_s=300.0, rocof_window_s=0.5):
    df = np.asarray(df_hz, dtype=float) * 1000.0   # mHz
    if len(df) == 0:
        raise ValueError("empty frequency series")
    out_std = np.abs(df) > standard_mhz
    starts, lens = _runs(out_std)
    w = max(1, int(round(rocof_window_s / dt_s)))
    if len(df) > w:
        rocof = np.max(np.abs(df[w:] - df[:-w])) / (w * dt_s) / 1000.0
    else:
        rocof = 0.0
    longest = float(lens.max() * dt_s) if len(lens) else 0.0
    return {"samples": int(len(df)), "dt_s": float(dt_s),
            "minutes_outside_standard": float(np.count_nonzero(out_std) * dt_s / 60.0),
            "max_abs_df_mhz": float(np.max(np.abs(df))),
            "mean_df_mhz": float(np.mean(df)), "std_df_mhz": float(np.std(df)),
            "max_rocof_hz_s": float(rocof),
            "excursions": int(len(lens)),
            "longest_excursion_s": longest,
            "time_to_restore_ok": longest <= restore_s,
            "excursions_over_alert_trigger": int(np.count_nonzero(lens * dt_s > alert_s)),
            "seconds_over_steady_state_limit": float(np.count_nonzero(
                np.abs(df) > max_ss_mhz) * dt_s),
            "max_instantaneous_ok": bool(np.max(np.abs(df)) <= max_inst_mhz)}
