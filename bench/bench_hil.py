# HIL lock-step speed: the rig's pymodbus client against the Unix-port firmware over a pty (through
# the fault proxy, as in a run), and the same client and proxy against a null responder: another
# process that answers every lock-step request at once (the baseline the rig's ratio is to).
import contextlib
import os
import pathlib
import select
import subprocess
import sys
import threading
import time

from hil import regmap
from hil.client import Unit, make_client
from hil.link import FaultProxy, Faults, Link, UnixFirmware, open_pty

ROOT = pathlib.Path(__file__).resolve().parent.parent

N_STEPS = 600
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
    """Answers every FC23 request as fast as it can: zero outputs except sim_time_ms, copied
    from the request (the rig checks that a reply answers the step it asked for)."""
    from afrr.modbus import build_request, crc16
    from hil import regcodec
    # unit 1, FC23, byte count, registers, CRC: the layout build_request gives a data block
    reply = bytearray(build_request(1, 23, data=[0] * regmap.INPUT_COUNT))
    t_req = 11 + 2 * (regcodec.holding_by_name("sim_time_ms")[0] - regmap.LOCKSTEP_WRITE_ADDR)
    t_rep = 3 + 2 * regcodec.input_by_name("sim_time_ms")[0]
    n = len(reply) - 2
    need = _request_bytes()
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
    """The rig's client, through the fault proxy, to the Unix-port firmware (as in a run)."""
    faults = None
    if line_baud:  # the proxy delivers each frame after its time on a UART at line_baud
        faults = {"req": Faults(line_baud=line_baud), "resp": Faults(line_baud=line_baud)}
    link = Link(UnixFirmware(), faults=faults).open()
    unit = Unit(make_client(link.client_path, BAUD, TIMEOUT_S))
    try:
        unit.connect().wait_ready()
        yield unit
    finally:
        unit.close()
        link.close()


@contextlib.contextmanager
def _null_unit():
    """The same client through the same proxy (pass-through) to a null responder in its own
    process on the unit's pty: a run's path minus the firmware's work."""
    cm, cs, client_path = open_pty()
    um, us, unit_path = open_pty()
    proc = subprocess.Popen([sys.executable, "-m", "bench.bench_hil", "--null-responder",
                             unit_path], cwd=str(ROOT), stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    proxy = FaultProxy(cm, um).start()
    unit = None
    try:
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the null responder did not start")
        unit = Unit(make_client(client_path, BAUD, TIMEOUT_S)).connect()
        yield unit
    finally:
        if unit is not None:
            unit.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proxy.stop()
        for fd in (cm, cs, um, us):
            os.close(fd)


def lockstep_and_null_steps_per_s(n=N_STEPS, rounds=6):
    """(firmware, null responder) steps per second, measured in alternating blocks so that
    both see the same machine load; the ratio of the two is the figure that travels."""
    per = max(1, n // rounds)
    with _firmware_unit() as fw, _null_unit() as null:
        _steps(fw, 20)  # warm up both
        _steps(null, 20)
        t_fw = t_null = 0.0
        for r in range(rounds):
            k0 = 21 + r * per
            t_fw += _steps(fw, per, k0)
            t_null += _steps(null, per, k0)
    return per * rounds / t_fw, per * rounds / t_null


def firmware_steps_per_s(n=N_STEPS, line_baud=0):
    with _firmware_unit(line_baud) as unit:
        _steps(unit, 20)  # warm up
        return n / _steps(unit, n, 21)


def _serve_null(path):
    """`python -m bench.bench_hil --null-responder PTY`: answer on the unit's side of a pty."""
    import tty
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    print("ready", flush=True)
    _null_responder(fd, threading.Event())


def run():
    fw, null = lockstep_and_null_steps_per_s()
    uart = firmware_steps_per_s(n=150, line_baud=BAUD)
    return [{"bench": "hil_lockstep", "target": "unix-pty", "steps_per_s": round(fw, 1),
             "null_responder_steps_per_s": round(null, 1),
             "ratio_to_null": round(fw / null, 3),
             "request_bytes": _request_bytes(), "reply_bytes": _reply_bytes(),
             "uart_115200_limit_steps_per_s": round(line_limit_tps(), 1),
             # the same rig and firmware with the proxy emulating a 115 200 baud line:
             "uart_115200_emulated_steps_per_s": round(uart, 1),
             # reading only the outputs block p_set_kw..status (0x12 registers) instead:
             "uart_115200_outputs_only_limit_steps_per_s": round(
                 line_limit_tps(reply_bytes=5 + 2 * 0x12), 1),
             "uart_460800_limit_steps_per_s": round(line_limit_tps(460800), 1)}]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--null-responder"]:
        _serve_null(sys.argv[2])
    else:
        for row in run():
            print(row)
