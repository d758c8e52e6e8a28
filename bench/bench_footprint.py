# footprint benchmark: .mpy bytes per board build, and the smallest heap the firmware runs in.
#
# For every board: build it (tools/build_firmware.py) and sum the file sizes, then run the
# workload in bench/mpy_footprint.py on the MicroPython Unix port from that build's own .mpy
# files, with -X heapsize=N, and binary-search the smallest N (1 KiB steps) at which it completes:
# that is peak_heap_bytes. The Unix port is 64-bit, so objects are up to twice their size on a
# 32-bit board: the figure is an upper bound for the boards. The workload is the firmware's
# run-time set (controller, register bank, Modbus RTU, frequency meter, zero-crossing buffer,
# watchdog feeder, state store) driven by lock-step FC23 frames; it stands in for the default
# HIL scenario until firmware/main.py and the rig exist. With AFRR_MICROPYTHON32 set to a 32-bit
# Unix port (tools/micropython32.sh), the same search also runs there: peak_heap_bytes_32bit is
# then the board-like figure (4-byte objects, 31-bit small ints).
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
MPY = ROOT / ".venv" / "bin" / "micropython"
MPY32 = os.environ.get("AFRR_MICROPYTHON32", "")  # optional 32-bit port: tools/micropython32.sh
STEPS = 450  # 30 min of 4 s cycles: two state saves
LO, HI = 8 * 1024, 1024 * 1024


def _runs(mod_dir, board, heap, state, exe=MPY):
    r = subprocess.run([str(exe), "-X", "heapsize=%d" % heap, "bench/mpy_footprint.py",
                        str(mod_dir), board, str(STEPS), state], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    if r.returncode == 0 and r.stdout.startswith("ok"):
        return r.stdout.split()
    if "MemoryError" in r.stderr + r.stdout:
        return None
    raise RuntimeError("footprint workload failed on %s: %s"
                       % (board, (r.stderr + r.stdout).strip()[-300:]))


def smallest_heap(mod_dir, board, state, exe=MPY):
    """Smallest -X heapsize (1 KiB steps) at which the workload completes, and its output."""
    lo, hi = LO, HI  # lo fails (assumed), hi must pass
    out = _runs(mod_dir, board, hi, state, exe)
    if out is None:
        raise RuntimeError("workload does not fit %d bytes of heap" % hi)
    while hi - lo > 1024:
        mid = (lo + hi) // 2 // 1024 * 1024
        res = _runs(mod_dir, board, mid, state, exe)
        if res is None:
            lo = mid
        else:
            hi, out = mid, res
    return hi, out


def footprint(names=None):
    sys.path.insert(0, str(ROOT / "tools"))
    sys.path.insert(0, str(ROOT))
    import build_firmware

    import boards

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or boards.NAMES:
            board = build_firmware.load_board(name)
            file_rows, total = build_firmware.build(name, tmp, quiet=True)
            mpy_bytes = sum(r[1] for r in file_rows if r[0].endswith(".mpy"))
            peak, out = smallest_heap(pathlib.Path(tmp) / name, name,
                                      str(pathlib.Path(tmp) / (name + "_state.bin")))
            row = {
                "bench": "footprint", "board": name, "mpy_bytes": mpy_bytes,
                "peak_heap_bytes": peak, "runtime": "micropython-unix-x64",
                "live_heap_after_start_bytes": int(out[4]), "build_bytes": total,
                "flash_budget_bytes": board.FLASH_BUDGET_BYTES,
                "heap_budget_bytes": board.HEAP_BUDGET_BYTES,
                "workload": "controller+modbus FC23 lock-step, %d steps" % STEPS,
            }
            if MPY32 and os.path.exists(MPY32):
                peak32, out32 = smallest_heap(pathlib.Path(tmp) / name, name,
                                              str(pathlib.Path(tmp) / (name + "_s32.bin")), MPY32)
                row["peak_heap_bytes_32bit"] = peak32
                row["live_heap_after_start_bytes_32bit"] = int(out32[4])
            rows.append(row)
    return rows


def run():
    return footprint()


if __name__ == "__main__":
    import json

    for row in run():
        print(json.dumps(row))
