# German aFRR acceptance channel on 1 s data (regelleistung.net settlement model, docs/SOURCES.md).
#
# Reading chosen and documented here (docs/SOURCES.md summarises the model description):
#  - fast bound a(t) = set-point s(t): a unit may follow the set-point immediately;
#  - slow bound b(t): moves toward the set-point of reaction_s earlier, s(t - 30 s), starting
#    from where it is, at max(min gradient, |change| / (reach_s - reaction_s)); so a change is
#    covered no later than 300 s after it, and never slower than 1 MW / 270 s;
#  - channel = [min(a, b) - tol, max(a, b) + tol], tol = tol_share * band (default 5 % of the
#    prequalified band; the model says "tolerance band +-5 %");
#  - a second outside the channel on the slow-bound side (or toward zero when a == b) is
#    under-fulfilment, on the other side over-fulfilment;
#  - under-fulfilment "counts" when it is flagged in more than 5 % of a rolling 300 s window;
#  - per set-point change (|step| > tol): reaction = delivered power moved by more than tol in
#    the step's direction within reaction_s; reached = within tol of the new set-point within
#    reach_s (only judged when the set-point stays put that long).
import numpy as np


def _slow_bound(s, reaction, reach, g_min):
    n = len(s)
    b = np.empty(n)
    b[0] = s[0]
    target_prev = s[0]
    rate = g_min
    span = max(reach - reaction, 1)
    for t in range(1, n):
        # a change at t0 may leave the power untouched up to and including t0 + reaction
        target = s[t - reaction - 1] if t > reaction else s[0]
        if target != target_prev:
            rate = max(g_min, abs(target - b[t - 1]) / span)
            target_prev = target
        d = target - b[t - 1]
        b[t] = b[t - 1] + (d if abs(d) <= rate else (rate if d > 0 else -rate))
    return b


def acceptance_channel(setpoint_kw, delivered_kw, band_kw, tol_share=0.05, reaction_s=30,
                       reach_s=300, min_gradient_kw_s=1000.0 / 270.0, window_s=300,
                       window_limit=0.05):
    """Judge 1 s samples of set-point and delivered power (kW, + = upward)."""
    s = np.asarray(setpoint_kw, dtype=float)
    p = np.asarray(delivered_kw, dtype=float)
    if s.shape != p.shape or s.ndim != 1 or len(s) == 0:
        raise ValueError("set-point and delivered must be 1-D series of the same length")
    if not band_kw > 0:
        raise ValueError("band_kw must be > 0")
    tol = tol_share * band_kw
    b = _slow_bound(s, int(reaction_s), int(reach_s), min_gradient_kw_s)
    lo = np.minimum(s, b) - tol
    hi = np.maximum(s, b) + tol
    below, above = p < lo, p > hi
    # which side is "under": the slow-bound side; with a == b, the side toward zero
    slow_low = b < s
    slow_high = b > s
    steady = ~(slow_low | slow_high)
    under = (below & slow_low) | (above & slow_high) | \
        (steady & ((below & (s > 0)) | (above & (s < 0))))
    over = (below | above) & ~under
    w = int(window_s)
    c = np.concatenate([[0], np.cumsum(under)])
    if len(s) >= w:
        share = (c[w:] - c[:-w]) / w
    else:
        share = np.array([c[-1] / w])
    # set-point changes
    late, not_reached = [], []
    steps = np.nonzero(np.abs(np.diff(s)) > tol)[0] + 1
    for t0 in steps:
        d = s[t0] - s[t0 - 1]
        p0 = p[t0 - 1]
        end = min(len(s), t0 + int(reaction_s) + 1)
        if end - t0 >= int(reaction_s) + 1 or end == len(s):
            moved = (p[t0:end] - p0) * np.sign(d) > tol
            if end - t0 >= int(reaction_s) + 1 and not np.any(moved):
                late.append(int(t0))
        nxt = steps[steps > t0]
        stay = (nxt[0] if len(nxt) else len(s)) - t0
        if stay > reach_s and t0 + reach_s < len(s):
            if not np.any(np.abs(p[t0:t0 + int(reach_s) + 1] - s[t0]) <= tol):
                not_reached.append(int(t0))
    windows_bad = int(np.count_nonzero(share > window_limit))
    return {"seconds": int(len(s)), "tolerance_kw": float(tol),
            "share_inside": float(1.0 - np.mean(below | above)),
            "share_under": float(np.mean(under)), "share_over": float(np.mean(over)),
            "max_window_under_share": float(share.max()),
            "windows_under_over_limit": windows_bad,
            "setpoint_changes": int(len(steps)),
            "late_reactions_s": late, "not_reached_s": not_reached,
            "passed": windows_bad == 0 and not late and not not_reached,
            "lower_kw": lo, "upper_kw": hi, "under": under, "over": over}
