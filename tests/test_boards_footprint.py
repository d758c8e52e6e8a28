# The footprint benchmark measures what it claims: .mpy size per board and the smallest heap.
import json
import subprocess

from bench import bench_footprint
from conftest import MICROPYTHON, ROOT


def test_footprint_row_for_the_smallest_board():
    (row,) = bench_footprint.footprint(["pyboard_v11"], hil=False)  # HIL search: ~1 min
    assert row["bench"] == "footprint" and row["board"] == "pyboard_v11"
    assert 10000 < row["mpy_bytes"] < 40 * 1024  # target: under 40 KB of .mpy
    assert row["build_bytes"] <= row["flash_budget_bytes"]
    # measured on the 64-bit Unix port: an upper bound for a 32-bit board; regression guard
    assert row["live_heap_after_start_bytes_full_set"] < row["peak_heap_bytes_full_set"]
    assert row["peak_heap_bytes"] <= row["peak_heap_bytes_full_set"] <= 128 * 1024
    json.dumps(row)


def test_workload_fails_cleanly_below_its_peak(tmp_path):
    # the search relies on a MemoryError, not a crash, when the heap is too small
    r = subprocess.run([str(MICROPYTHON), "-X", "heapsize=16384", "bench/mpy_footprint.py",
                        "firmware", "unix", "10", str(tmp_path / "s.bin")], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "MemoryError" in r.stdout + r.stderr


def test_hil_heap_search_sees_a_memory_error_as_too_small():
    # the default-scenario search relies on a clean "too small" answer, not a hang or a crash
    assert bench_footprint._hil_passes(bench_footprint.DEFAULT_SCENARIO, 16 * 1024) is False
