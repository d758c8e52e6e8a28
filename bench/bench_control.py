# control_step benchmark: the integer step vs a plain float step, both on the Unix port, one run,
# CPU time of that process (bench/mpy_control.py). Target: the integer step in at most 0.8 x the
# plain float step's time, and no heap allocation per step.
import json
import pathlib
import subprocess

from bench.target import check

ROOT = pathlib.Path(__file__).resolve().parent.parent
RATIO_TARGET = 0.8


def run():
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "micropython"), "bench/mpy_control.py",
                          "50000"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    row = {k: row[k] for k in ("bench", "runtime", "clock", "steps", "us_per_step",
                               "plain_float_us_per_step", "heap_bytes_per_step",
                               "plain_float_heap_bytes_per_step")}
    row["ratio_to_plain_float"] = round(row["us_per_step"] / row["plain_float_us_per_step"], 3)
    check(row, "ratio_to_plain_float", "<=", RATIO_TARGET)
    check(row, "heap_bytes_per_step", "==", 0)
    return [row]
