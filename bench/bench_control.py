# control_step benchmark: the integer step vs a float reference, both on the Unix port, one run.
import json
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run():
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "micropython"), "bench/mpy_control.py",
                          "50000"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    keys = ["bench", "runtime", "steps", "us_per_step", "heap_bytes_per_step",
            "float_reference_us_per_step", "float_reference_heap_bytes_per_step"]
    return [{k: row[k] for k in keys}]
