# HIL lock-step speed: the rig's pymodbus client against the Unix-port firmware over a pty (through
# the fault proxy, as in a run), and the same client and proxy against a null responder: another
# process that answers every lock-step request at once (the baseline the rig's ratio is to).
#
# The null responder is of the firmware's own process kind: the MicroPython Unix port on the
# firmware's pty link (bench/mpy_null.py), so the ratio prices the firmware's work and nothing
# else. A CPython null responder (this module, --null-responder), the baseline until then, is
# measured beside it: its interpreter costs it more CPU per step, so the ratio to it flatters.
# Blocks of steps alternate between the three, so all see the same machine load; each figure is
# the median block (a burst of load on the machine hits a block, not the median), and each
# responder's CPU per step (/proc/PID/schedstat) says where the time went.
import contextlib
import os
import pathlib
import select
import statistics
import subprocess
import sys
import threading
import time

from bench.target import check
from hil import regmap
from hil.client import Unit, make_client
from hil.link import MICROPYTHON, FaultProxy, Faults, Link, UnixFirmware, open_pty

ROOT = pathlib.Path(__file__).resolve().parent.parent

N_STEPS = 1200  # per responder: 40 rounds of 30
BAUD = 115200
SILENCE_S = 0.00175  # 3.5 characters, fixed by the RTU spec above 19 200 baud


def _request_bytes():
    return 13 + 2 * regmap.LOCKSTEP_WRITE_COUNT


def _reply_bytes():
    return 5 + 2 * regmap.INPUT_COUNT


def line_limit_tps(baud=BAUD, bits_per_char=10, reply_bytes=None):
    """Lock-step transactions/s a UART can carry at most: both frames plus two silences.

    The 3.5-character silence is 1.75 ms above 19 200 baud (fixed by the spec), else 35 bits.
    """
    reply = _reply_bytes() if reply_bytes is None else reply_bytes
    silence = SILENCE_S if baud > 19200 else 35.0 / baud
    t = (_request_bytes() + reply) * bits_per_char / baud + 2 * silence
    return 1.0 / t


TIMEOUT_S = 5.0  # an overall limit per try; a loaded machine only makes the figure lower
TRIES = 3  # as a run retries (a late reply is dropped, then the step asked again)


def _steps(unit, n, k0=1):
    """n lock-step transactions from simulated step k0 on; wall-clock seconds they took."""
    t0 = time.perf_counter()
    for k in range(k0, k0 + n):
        vals = {"f_mhz": 50000 - (k % 50), "mode": 1, "soc_x100": 5000,
                "tod_ms": (4000 * k) % 86400000, "sim_time_ms": 4000 * k}
        if not any(unit.lockstep(vals) is not None for _ in range(TRIES)):
            raise RuntimeError("lock-step transaction %d failed: %s" % (k, unit.last_error))
    return time.perf_counter() - t0


def _null_responder(fd, stop):
    """The CPython null responder: answers every FC23 request as bench/mpy_null.py does."""
    from afrr.modbus import crc16
    from bench.mpy_null import layout

    reply, n, need, t_req, t_rep = layout()
    buf = b""
    while not stop.is_set():
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return  # the rig closed the link
        if not data:
            return
        buf += data
        while len(buf) >= need:
            reply[t_rep:t_rep + 4] = buf[t_req:t_req + 4]
            c = crc16(reply, n, 0)
            reply[n] = c & 0xFF
            reply[n + 1] = c >> 8
            buf = buf[need:]
            os.write(fd, reply)


@contextlib.contextmanager
def _firmware_unit(line_baud=0):
    """The rig's client, through the fault proxy, to the Unix-port firmware (as in a run);
    yields (unit, the firmware's pid)."""
    faults = None
    if line_baud:  # the proxy delivers each frame after its time on a UART at line_baud
        faults = {"req": Faults(line_baud=line_baud), "resp": Faults(line_baud=line_baud)}
    link = Link(UnixFirmware(), faults=faults).open()
    unit = Unit(make_client(link.client_path, BAUD, TIMEOUT_S))
    try:
        unit.connect().wait_ready()
        yield unit, link.firmware.proc.pid
    finally:
        unit.close()
        link.close()


NULL_RESPONDERS = {  # the command that serves a pty path given last
    "micropython": [str(MICROPYTHON), "bench/mpy_null.py"],
    "cpython": [sys.executable, "-m", "bench.bench_hil", "--null-responder"],
}


@contextlib.contextmanager
def _null_unit(kind="micropython"):
    """The same client through the same proxy (pass-through) to a null responder in its own
    process on the unit's pty: a run's path minus the firmware's work; yields (unit, pid)."""
    cm, cs, client_path = open_pty()
    um, us, unit_path = open_pty()
    proc = subprocess.Popen(NULL_RESPONDERS[kind] + [unit_path], cwd=str(ROOT),
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    proxy = FaultProxy(cm, um).start()
    unit = None
    try:
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the %s null responder did not start" % kind)
        unit = Unit(make_client(client_path, BAUD, TIMEOUT_S)).connect()
        yield unit, proc.pid
    finally:
        if unit is not None:
            unit.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proxy.stop()
        for fd in (cm, cs, um, us):
            os.close(fd)


def _cpu_s(pid):
    """CPU seconds the process has run (Linux /proc/PID/schedstat), or None."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def lockstep_vs_null(n=N_STEPS, rounds=40):
    """Lock-step figures of the firmware and the null responders, in `rounds` alternating
    blocks of n // rounds steps: {name: (steps/s of the median block, CPU us per step of the
    responder process or None, [seconds per block])} for "firmware", "micropython", "cpython"."""
    per = max(1, n // rounds)
    with contextlib.ExitStack() as stack:
        sides = [("firmware", stack.enter_context(_firmware_unit()))]
        sides += [(k, stack.enter_context(_null_unit(k))) for k in NULL_RESPONDERS]
        for _name, (unit, _pid) in sides:
            _steps(unit, 20)  # warm up
        blocks = {name: [] for name, _ in sides}
        cpu = dict.fromkeys(blocks, 0.0)
        for r in range(rounds):
            k0 = 21 + r * per
            for name, (unit, pid) in sides:
                c0 = _cpu_s(pid)
                blocks[name].append(_steps(unit, per, k0))
                c1 = _cpu_s(pid)
                cpu[name] = None if c0 is None or c1 is None or cpu[name] is None \
                    else cpu[name] + c1 - c0
    return {name: (per / statistics.median(t),
                   None if cpu[name] is None else round(1e6 * cpu[name] / (per * rounds), 1), t)
            for name, t in blocks.items()}


def firmware_steps_per_s(n=N_STEPS, line_baud=0):
    with _firmware_unit(line_baud) as (unit, _pid):
        _steps(unit, 20)  # warm up
        return n / _steps(unit, n, 21)


def _serve_null(path):
    """`python -m bench.bench_hil --null-responder PTY`: answer on the unit's side of a pty."""
    import tty
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    print("ready", flush=True)
    _null_responder(fd, threading.Event())


def _quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return [round(q[0], 3), round(q[2], 3)]


def run():
    m = lockstep_vs_null()
    fw, fw_cpu, t_fw = m["firmware"]
    null, null_cpu, t_null = m["micropython"]
    cnull, cnull_cpu, _t = m["cpython"]
    uart = firmware_steps_per_s(n=150, line_baud=BAUD)
    row = {"bench": "hil_lockstep", "target": "unix-pty", "steps_per_s": round(fw, 1),
           "null_responder": "micropython-unix (bench/mpy_null.py: the firmware's pty link)",
           "null_responder_steps_per_s": round(null, 1),
           "ratio_to_null": round(fw / null, 3),
           # the same ratio per round (a block of each, back to back): the spread over a run
           "ratio_to_null_quartiles": _quartiles([b / a for a, b in zip(t_fw, t_null)]),
           "firmware_cpu_us_per_step": fw_cpu, "null_responder_cpu_us_per_step": null_cpu,
           "cpython_null_responder_steps_per_s": round(cnull, 1),
           "cpython_null_responder_cpu_us_per_step": cnull_cpu,
           "ratio_to_cpython_null": round(fw / cnull, 3),
           "rounds": len(t_fw), "steps_per_round": N_STEPS // len(t_fw),
           "request_bytes": _request_bytes(), "reply_bytes": _reply_bytes(),
           "uart_115200_limit_steps_per_s": round(line_limit_tps(), 1),
           # the same rig and firmware with the proxy emulating a 115 200 baud line:
           "uart_115200_emulated_steps_per_s": round(uart, 1),
           # reading only the outputs block p_set_kw..status (0x12 registers) instead:
           "uart_115200_outputs_only_limit_steps_per_s": round(
               line_limit_tps(reply_bytes=5 + 2 * 0x12), 1),
           "uart_460800_limit_steps_per_s": round(line_limit_tps(460800), 1)}
    check(row, "steps_per_s", ">=", 600)
    check(row, "ratio_to_null", ">=", 0.8)
    return [row]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--null-responder"]:
        _serve_null(sys.argv[2])
    else:
        for row in run():
            print(row)
