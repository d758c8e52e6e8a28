# footprint benchmark: .mpy bytes per board build, and the smallest heap the firmware runs in.
#
# For every board: build it (tools/build_firmware.py) and sum the file sizes, then run the
# workload in bench/mpy_footprint.py on the MicroPython Unix port from the same files compiled
# for the port's own arch (the controller's @micropython.native code is per arch; x64 here),
# with -X heapsize=N, and binary-search the smallest N (1 KiB steps) at which it completes:
# that is peak_heap_bytes. The Unix port is 64-bit, so objects are up to twice their size on a
# 32-bit board: the figure is an upper bound for the boards. The workload is the firmware's
# run-time set (controller, register bank, Modbus RTU, frequency meter, zero-crossing buffer,
# watchdog feeder, state store) driven by lock-step FC23 frames; it stands in for the default
# HIL scenario until firmware/main.py and the rig exist. With AFRR_MICROPYTHON32 set to a 32-bit
# Unix port (tools/micropython32.sh), the same search also runs there: peak_heap_bytes_32bit is
# then the board-like figure (4-byte objects, 31-bit small ints); with AFRR_MICROPYTHON32_FROZEN
# (the firmware frozen into the binary, boards/manifest_afrr.py) peak_heap_bytes_32bit_frozen is
# what a custom board firmware built with boards/manifest.py would need.
#
# hil_default_heap_bytes_with_state (target <= 48 KiB: a quarter of the 64 KiB budget free): the
# smallest -X heapsize at which the default HIL scenario passes with a state file, as a board
# always runs (saved every 15 steps); hil_default_heap_bytes: the same without a state file,
# `python -m hil run hil/scenarios/default.toml --target unix --heapsize N` (the unix board's
# mpy-cross build, lock-step, 900 steps), and with --from-source for comparison. It is
# reported against the 64 KiB budget of the smallest board (hil_default_fits_budget) and an
# older target of half of it free (hil_default_half_budget_free).
# hil_default_heap_bytes_qemu: the same scenario on the emulated Cortex-M3 (`--target qemu`, the
# firmware frozen into MicroPython's qemu port, 32-bit objects): the smallest heap left free at
# the firmware's start (a ballast takes the rest) at which it passes, searched up to the 64 KiB
# budget; the emulated board's littlefs RAM disk (6 KiB) is made before and not counted (a board
# keeps its state in flash). Measured 2026-12-01: 29 696 bytes, in about 8 runs of the scenario
# under QEMU; 18 432 after the lock-step FC23 path was reworked (viper CRC, one pass per
# table); 17 408 once the start-only code left the heap after start.
# qemu_instructions_per_step: guest instructions of one control step on that MCU under QEMU's
# -icount (deterministic; measured 2026-12-01: about 70 700, i.e. about 3 ms of a
# 25 MHz Cortex-M3 per 4 s cycle; 27 565 after the FC23 rework, about 1.1 ms). Needs
# `make micropython`; absent otherwise.
import os
import pathlib
import select
import struct
import subprocess
import sys
import tempfile
import time

from bench.target import check

ROOT = pathlib.Path(__file__).resolve().parent.parent
MPY = ROOT / ".venv" / "bin" / "micropython"
_BUILT = ROOT / "build" / "micropython"  # tools/build_micropython.py (`make micropython`)
# the 32-bit Unix port and the same with the firmware frozen in: from the environment, else built
MPY32 = os.environ.get("AFRR_MICROPYTHON32") or str(_BUILT / "micropython32")
MPY32F = os.environ.get("AFRR_MICROPYTHON32_FROZEN") or str(_BUILT / "micropython32-frozen")
STEPS = 450  # 30 min of 4 s cycles: two state saves
LO, HI = 8 * 1024, 1024 * 1024
DEFAULT_SCENARIO = ROOT / "hil" / "scenarios" / "default.toml"


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


def _request(sim_ms, k):
    """One lock-step FC23 frame: write the lock-step block, read 16 input-mirror registers."""
    from afrr import regmap
    from afrr.modbus import build_request
    from hil import regcodec

    vals = {"f_mhz": 50000 + (k * 37) % 301 - 150, "mode": 1, "soc_x100": 5000, "age_ms": 100,
            "tod_ms": (sim_ms // 1000 * 1000) % 86400000, "sim_time_ms": sim_ms}
    data = regcodec.encode_holding(vals)
    return build_request(1, 0x17, regmap.MIRROR_BASE, 16, regmap.LOCKSTEP_WRITE_ADDR, len(data),
                         data=data)


def firmware_runs(mod_dir, heap, steps, exe=MPY, state=None, board=None):
    """Run main.py from mod_dir on a pty with -X heapsize=heap and drive `steps` lock-step FC23
    transactions. Returns True if every reply came back, False on MemoryError (raises else).
    `board`: main.py --board (a board's build holds only that board's data module)."""
    sys.path.insert(0, str(ROOT))
    from hil.link import open_pty

    master, slave, path = open_pty()
    cmd = [str(exe), "-X", "heapsize=%d" % heap, "main.py", "--device", path]
    if state:
        cmd += ["--state-file", state]
    if board:
        cmd += ["--board", board]
    p = subprocess.Popen(cmd, cwd=mod_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ok = 0
    try:
        for k in range(steps):
            req = _request(4000 * (k + 1), k)
            # like the rig, resend a request that got no reply (a frame split by a scheduling
            # pause longer than the silence time is dropped by the firmware as a CRC error)
            # (the first one also waits for the firmware to start and open its pty)
            for attempt in range(4 if k else 100):
                got = b""
                os.write(master, req)
                t_end = time.monotonic() + (1.0 if k else 0.1)
                while len(got) < 37 and time.monotonic() < t_end and p.poll() is None:
                    if select.select([master], [], [], 0.05)[0]:
                        got += os.read(master, 256)
                if len(got) >= 37 or p.poll() is not None:
                    break
            if len(got) < 37:
                break
            ok += 1
    finally:
        if p.poll() is None:
            p.kill()
        out = p.communicate(timeout=10)[0].decode(errors="replace")
        os.close(master)
        os.close(slave)
    if ok == steps:
        return True
    if "MemoryError" in out or "memory allocation failed" in out:
        return False
    raise RuntimeError("firmware on the Unix port stopped after %d steps: %s" % (ok, out[-300:]))


def _bisect_heap(lo, hi, runs):
    """Smallest heap in lo..hi (1 KiB steps) at which runs(heap) returns something true, and
    what it returned there; lo is assumed to fail. (None, None) when hi fails too."""
    res = runs(hi)
    if not res:
        return None, None
    while hi - lo > 1024:
        mid = (lo + hi) // 2 // 1024 * 1024
        r = runs(mid)
        if r:
            hi, res = mid, r
        else:
            lo = mid
    return hi, res


def smallest_fw_heap(mod_dir, steps, exe=MPY, state=None, board=None):
    """Smallest -X heapsize (1 KiB steps) at which firmware/main.py serves `steps` steps."""
    hi = 512 * 1024
    heap, _ok = _bisect_heap(LO, hi, lambda n: firmware_runs(mod_dir, n, steps, exe, state,
                                                             board))
    if heap is None:
        raise RuntimeError("firmware does not run in %d bytes of heap" % hi)
    return heap


def smallest_heap(mod_dir, board, state, exe=MPY):
    """Smallest -X heapsize (1 KiB steps) at which the workload completes, and its output."""
    heap, out = _bisect_heap(LO, HI, lambda n: _runs(mod_dir, board, n, state, exe))
    if heap is None:
        raise RuntimeError("workload does not fit %d bytes of heap" % HI)
    return heap, out


def saved_records(path):
    """How many records the firmware saved into the state file at `path` (its sequence number:
    one per save from a fresh file, firmware/afrr/persist.py header "<4sBBHi"); 0 when absent.
    A save that found no heap is skipped, not fatal (hal/store.StateSaver), so a run with a
    state file counts as fitting only when its saves were made."""
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError:
        return 0
    return struct.unpack_from("<i", data, 8)[0] if len(data) >= 12 else 0


def _hil_passes(scenario, heap, source=False, state=False, target="unix"):
    """Does `scenario` pass (python -m hil run --target unix --heapsize heap)? False when the
    firmware ran out of memory; raises on any other failure. state: the firmware keeps a state
    file (--state-file, saved every 15 steps), as a board always does. On --target qemu (heap:
    what is left free to the firmware at its start) the board's last words go to the link, not
    to a log: any failed run counts as out of memory (smallest_hil_heap checks the full heap)."""
    sys.path.insert(0, str(ROOT))
    from hil import runner
    from hil.runner import Run, RunError, summarize
    from hil.scenario import load

    real = runner.UnixFirmware
    tmp = tempfile.TemporaryDirectory(prefix="afrr-fp-") if state else None
    if state:
        def with_state(**kw):
            kw["state_file"] = kw.get("state_file") or pathlib.Path(tmp.name) / "state.bin"
            return real(**kw)
        runner.UnixFirmware = with_state
    try:
        run = Run(load(scenario), target=target, progress=False, heapsize=heap, source=source)
        try:
            run.execute()
        except RunError as e:
            if target == "qemu" or "memory allocation failed" in str(e) \
                    or "MemoryError" in str(e):
                return False
            raise
        # a board saves every 15 steps: fewer records means saves found no heap
        saves_short = state and saved_records(pathlib.Path(tmp.name) / "state.bin") < \
            len(run.steps) // 15
    finally:
        runner.UnixFirmware = real
        if tmp is not None:
            tmp.cleanup()
    summary, _acc = summarize(run)
    if summary["passed"]:
        return not saves_short
    if target == "qemu":
        return False
    if "memory allocation failed" in run.firmware_log or "MemoryError" in run.firmware_log:
        return False
    raise RuntimeError("%s fails at heap %d for another reason: %s" % (
        scenario, heap, [c for c in summary["criteria"] if not c["ok"]]))


def _hil_passes_retried(scenario, heap, source, state, target="unix", tries=3):
    """_hil_passes, with a run that failed for another reason than memory tried again (on a
    loaded machine a lock-step transaction can time out: that says nothing about the heap)."""
    for k in range(tries):
        try:
            return _hil_passes(scenario, heap, source, state, target)
        except RuntimeError:
            if k == tries - 1:
                raise
    return False


def smallest_hil_heap(scenario=DEFAULT_SCENARIO, source=False, state=False, target="unix"):
    """Smallest -X heapsize (1 KiB steps) at which the HIL scenario passes on the Unix port:
    the firmware as `python -m hil run <scenario> --target unix [--from-source]` runs it, with
    a state file if `state`. target "qemu": the smallest free heap at the firmware's start on
    the emulated Cortex-M3 (the frozen firmware, 32-bit objects), `--target qemu --heapsize N`."""
    hi = 256 * 1024 if target == "unix" else 64 * 1024  # qemu: up to the smallest budget
    heap, _ok = _bisect_heap(16 * 1024, hi,
                             lambda n: _hil_passes_retried(scenario, n, source, state, target))
    if heap is None:
        raise RuntimeError("%s does not pass in %d bytes of heap" % (scenario, hi))
    return heap


# instructions per control step on the emulated Cortex-M3: under `-icount shift=0` QEMU's
# virtual clock advances 1 ns per guest instruction, so time.ticks_us() (SysTick) counts
# thousands of instructions. The step is the firmware's Controller.step with the unit defaults
# and a varying frequency; the same loop with no steps is subtracted.
_ICOUNT_CODE = """
import time, gc
import boards
from afrr.config import Config
from afrr.controller import MODE_LOCAL, Controller
b = boards.load()
ctl = Controller(Config(**b.UNIT_DEFAULTS))
ctl.set_mode(MODE_LOCAL)
m = ctl.meas
m.age_ms = 100
m.soc_x100 = 5000
def run(n, k0):
    for k in range(k0, k0 + n):
        m.f_mhz = 50000 + (k * 37) %% 301 - 150
        m.tod_ms = (k * 4000) %% 86400000
        ctl.step(m, 4000)
run(50, 0)
gc.collect()
t0 = time.ticks_us()
run(0, 0)
t1 = time.ticks_us()
run(%d, 50)
t2 = time.ticks_us()
print(time.ticks_diff(t1, t0), time.ticks_diff(t2, t1))
"""


def qemu_step_instructions(n=1000):
    """Guest instructions per control step on the emulated Cortex-M3 (QEMU -icount shift=0)."""
    from hil import qemu

    fw = qemu.QemuFirmware(app=False, extra_args=["-icount", "shift=0"]).start()
    try:
        empty_us, run_us = (int(x) for x in fw.exec(_ICOUNT_CODE % n).split())
    finally:
        fw.stop()
    return (run_us - empty_us) * 1000 // n


def footprint(names=None, hil=True):
    """One row per board. hil: also search the smallest heap of the default HIL scenario (the
    issue's figure; about a minute), added to every row as hil_default_heap_bytes."""
    sys.path.insert(0, str(ROOT / "tools"))
    sys.path.insert(0, str(ROOT))
    import build_firmware

    import boards

    rows = []
    hil_rows = {}
    if hil:
        # the peak heap: the default scenario, firmware from the unix board's build
        # (what --target unix runs), and from source for comparison (the Unix port compiles)
        hil_rows = {}
        for key, kw in (("hil_default_heap_bytes_with_state", {"state": True}),
                        ("hil_default_heap_bytes", {}),
                        ("hil_default_heap_bytes_from_source", {"source": True})):
            try:
                hil_rows[key] = smallest_hil_heap(**kw)
            except RuntimeError as e:  # e.g. lock-step timeouts on a loaded machine: say so
                hil_rows[key] = None
                hil_rows[key + "_error"] = str(e)[-300:]
        from hil import qemu
        if qemu.not_ready() is None:  # the frozen firmware on the emulated Cortex-M3 (32-bit)
            try:
                hil_rows["hil_default_heap_bytes_qemu"] = smallest_hil_heap(target="qemu")
            except RuntimeError as e:
                hil_rows["hil_default_heap_bytes_qemu"] = None
                hil_rows["hil_default_heap_bytes_qemu_error"] = str(e)[-300:]
            # an MCU CPU budget estimate: about one cycle per instruction on a Cortex-M3
            hil_rows["qemu_instructions_per_step"] = qemu_step_instructions()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or boards.NAMES:
            board = build_firmware.load_board(name)
            file_rows, total = build_firmware.build(name, tmp, quiet=True)
            mpy_bytes = sum(r[1] for r in file_rows if r[0].endswith(".mpy"))
            state = str(pathlib.Path(tmp) / (name + "_state.bin"))
            row = {"bench": "footprint", "board": name, "mpy_bytes": mpy_bytes}
            exes = [("", MPY, "x64")]
            if MPY32 and os.path.exists(MPY32):
                exes.append(("_32bit", MPY32, "x86"))
            for suffix, exe, arch in exes:
                # the board's own module set, its native code compiled for the port that runs
                # it here (a board's armv6m/xtensawin/armv7emsp code cannot run on this host)
                host_dir = pathlib.Path(tmp) / arch
                build_firmware.build(name, host_dir, quiet=True, arch=arch)
                mod_dir = host_dir / name
                if (mod_dir / "main.py").exists():
                    # the real firmware: main.py serving lock-step FC23 over a pty, state file on
                    row["peak_heap_bytes" + suffix] = smallest_fw_heap(mod_dir, STEPS, exe, state,
                                                                       name)
                # every module this issue adds (frequency meter, zero-crossing buffer, watchdog,
                # store) on top of controller + Modbus, whether or not main.py uses them yet
                peak, out = smallest_heap(mod_dir, name, state, exe)
                row["peak_heap_bytes_full_set" + suffix] = peak
                row["live_heap_after_start_bytes_full_set" + suffix] = int(out[4])
                row.setdefault("peak_heap_bytes" + suffix, peak)
            if MPY32F and os.path.exists(MPY32F) and (mod_dir / "main.py").exists():
                # only main.py on the filesystem: afrr/hal/boards come from frozen bytecode
                only = pathlib.Path(tmp) / (name + "_frozen")
                only.mkdir()
                main_py = ROOT / "firmware" / "main.py"
                (only / "main.py").write_bytes(main_py.read_bytes())
                row["peak_heap_bytes_32bit_frozen"] = smallest_fw_heap(only, STEPS, MPY32F,
                                                                       state, name)
            row.update({
                "runtime": "micropython-unix-x64" + (", x86-32" if len(exes) > 1 else ""),
                "build_bytes": total, "flash_budget_bytes": board.FLASH_BUDGET_BYTES,
                "heap_budget_bytes": board.HEAP_BUDGET_BYTES,
                "workload": "%d lock-step FC23 steps" % STEPS,
            })
            if hil_rows:
                row.update(hil_rows)
                check(row, "hil_default_heap_bytes_with_state", "<=", 48 * 1024)
                peak = hil_rows["hil_default_heap_bytes"]
                if peak is None:
                    rows.append(row)
                    continue
                row.update({
                    "hil_default_heap_pct_of_budget": round(
                        100.0 * peak / board.HEAP_BUDGET_BYTES, 1),
                    "hil_default_fits_budget": peak <= board.HEAP_BUDGET_BYTES,
                    # target: a peak heap that leaves half of the budget free
                    "hil_default_half_budget_free": peak <= board.HEAP_BUDGET_BYTES // 2,
                })
            rows.append(row)
    return rows


def run():
    return footprint()


if __name__ == "__main__":
    import json

    for row in run():
        print(json.dumps(row))
