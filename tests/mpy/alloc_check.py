# Unix-port check: 10 000 control steps inside micropython.heap_lock() allocate nothing.
# Prints "steps=<n> mem_before=<b> mem_after=<a> errors=<e>"; run by tests/test_mpy_runtime.py.
import gc
import sys

import micropython

sys.path.insert(0, "firmware")
from afrr.config import Config  # noqa: E402
from afrr.controller import MODE_LOCAL, MODE_REMOTE, Controller  # noqa: E402

N = 10000
cfg = Config(band_up_kw=5000, band_down_kw=4000, rating_kw=6000, lpf_tau_ms=8000,
             deadband_kw=50, n_ties=3, cap_kwh=3000, fat_s=300)
ctl = Controller(cfg)
m = ctl.meas
# Inputs precomputed before the lock: a deterministic sweep through normal, saturated and
# invalid values (frequency out of range, stale, bad SoC) and mode switches.
freqs = [49000 + (k * 37) % 2100 if k % 97 else 40000 for k in range(N)]
gc.collect()
errors = 0
before = gc.mem_alloc()
micropython.heap_lock()
try:
    for k in range(N):
        m.f_mhz = freqs[k]
        m.ties_kw[0] = (k * 13) % 5000 - 2500
        m.ties_kw[1] = -((k * 7) % 3000)
        m.sched_kw = 100
        m.age_ms = 20000 if k % 501 == 0 else 100
        m.soc_x100 = (k * 3) % 10001 if k % 389 else -5
        m.tod_ms = (k * 4000) % 86400000
        if k % 50 == 0:
            m.remote_seq += 1
            m.remote_sp_kw = (k % 9000) - 4500
        if k == 3000:
            ctl.set_mode(MODE_REMOTE)
        if k == 6000 or k == 0:
            ctl.set_mode(MODE_LOCAL)
        ctl.step(m, 4000 if k % 211 else 0)
except MemoryError:
    errors += 1
micropython.heap_unlock()
after = gc.mem_alloc()
print("steps=%d mem_before=%d mem_after=%d errors=%d" % (N, before, after, errors))
