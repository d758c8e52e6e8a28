# The firmware core on the MicroPython Unix port: bit-identical to CPython, allocation-free.
import random
import re
import subprocess
import sys

from conftest import MICROPYTHON, ROOT

sys.path.insert(0, str(ROOT / "tests" / "mpy"))
import trace_driver  # noqa: E402

from afrr.controller import F_FAILSAFE, F_RAMP, F_SAT_HIGH, F_SAT_LOW, F_SOC_LIMIT  # noqa: E402


def _mpy(*args, timeout=120):
    r = subprocess.run([str(MICROPYTHON), *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def make_trace(seed, n):
    """A seeded input trace: random walks of frequency and ties, faults, garbage, mode switches."""
    rnd = random.Random(seed)
    lines = ["cfg band_up_kw=3000 band_down_kw=2000 rating_kw=3000 k_mw_hz=400 n_ties=3 "
             "lpf_tau_ms=6000 deadband_kw=20 ti_s=60 kp_q15=6000 cap_kwh=1500 fat_s=120"]
    f, ties, tod, seq, sp, mode = 50000, [0, 0, 0], 3_600_000, 0, 0, 1
    for k in range(n):
        f = min(52000, max(48000, f + rnd.randint(-12, 12) - (f - 50000) // 50))
        ties = [t + rnd.randint(-200, 200) for t in ties]
        dt = 4000
        r = rnd.random()
        if r < 0.01:
            dt = rnd.choice([0, -5, 70000, 1])
        if k % 500 == 499:
            mode = rnd.choice([0, 1, 2])
        if rnd.random() < 0.5:
            seq += 1
            sp = rnd.randint(-4000, 4000)
        tod = (tod + (dt if 0 < dt <= 60000 else 4000)) % 86_400_000
        fm = f
        if rnd.random() < 0.01:
            fm = rnd.choice([40000, 47499, 52501, -1, 10**9])
        age = 100 if rnd.random() > 0.01 else 99999
        soc = abs((k * 7) % 20000 - 10000) if rnd.random() > 0.005 else 20000
        t3 = ties + [rnd.randint(-10**7, 10**7) if rnd.random() < 0.005 else 0] + [0] * 4
        lines.append(" ".join(str(x) for x in
                              [mode, dt, tod, fm, 150, age, soc, seq, sp] + t3))
    return lines


def test_differential_10000_steps_identical(tmp_path):
    lines = make_trace(seed=20251128, n=10000)
    path = tmp_path / "trace.txt"
    path.write_text("\n".join(lines) + "\n")
    cpython = list(trace_driver.run_lines(lines))
    upy = _mpy("tests/mpy/trace_driver.py", str(path)).splitlines()
    assert len(cpython) == 10000
    assert upy == cpython
    # the trace must have exercised the interesting paths, or the comparison proves little
    flags = 0
    ps = set()
    for row in cpython:
        v = [int(x) for x in row.split()]
        flags |= v[7]
        ps.add(v[0])
    for bit in (F_FAILSAFE, F_RAMP, F_SAT_HIGH, F_SAT_LOW, F_SOC_LIMIT):
        assert flags & bit, hex(bit)
    assert len(ps) > 500


def _alloc_line(out):
    m = re.search(r"steps=(\d+) mem_before=(\d+) mem_after=(\d+) errors=(\d+)", out)
    assert m, out
    return [int(x) for x in m.groups()]


def test_step_allocates_nothing_under_heap_lock():
    steps, before, after, errors = _alloc_line(_mpy("tests/mpy/alloc_check.py"))
    assert steps == 10000
    assert errors == 0
    assert after == before


def test_heap_lock_harness_detects_an_allocation():
    # negative control: the same harness flags a step that allocates
    code = ("import micropython, gc\nerrors = 0\nbefore = gc.mem_alloc()\n"
            "micropython.heap_lock()\ntry:\n    x = [1, 2, 3]\nexcept MemoryError:\n"
            "    errors += 1\nmicropython.heap_unlock()\n"
            "print('steps=1 mem_before=%d mem_after=%d errors=%d' % "
            "(before, gc.mem_alloc(), errors))\n")
    steps, before, after, errors = _alloc_line(_mpy("-c", code))
    assert errors == 1
