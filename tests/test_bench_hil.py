# The null responders of the lock-step benchmark answer what the rig asks, byte for byte.
import os
import select
import subprocess
import time

import pytest

from afrr import regmap
from afrr.modbus import build_request, crc16
from bench import bench_hil
from conftest import MICROPYTHON, ROOT
from hil import regcodec
from hil.link import open_pty


def _request(sim_ms):
    regs = regcodec.encode_holding({"f_mhz": 50012, "mode": 1, "soc_x100": 4321,
                                    "tie_kw_0": -5, "sim_time_ms": sim_ms})
    return build_request(1, 23, regmap.MIRROR_BASE, regmap.INPUT_COUNT,
                         regmap.LOCKSTEP_WRITE_ADDR, regmap.LOCKSTEP_WRITE_COUNT, data=regs)


def _read(fd, n, timeout_s=20.0):
    got = b""
    t_end = time.monotonic() + timeout_s  # an overall limit: the bytes come when they come
    while len(got) < n and time.monotonic() < t_end:
        if select.select([fd], [], [], 0.2)[0]:
            got += os.read(fd, 4096)
    return got


def _expected(sim_ms):
    words = [0] * regmap.INPUT_COUNT
    i = regcodec.input_by_name("sim_time_ms")[0]
    words[i], words[i + 1] = regcodec.s32_words(sim_ms)
    body = bytes([1, 23, 2 * regmap.INPUT_COUNT]) + b"".join(
        bytes([w >> 8, w & 0xFF]) for w in words)
    c = crc16(body, len(body), 0)
    return body + bytes([c & 0xFF, c >> 8])


@pytest.mark.parametrize("kind", sorted(bench_hil.NULL_RESPONDERS))
def test_null_responder_answers_each_step_with_its_time(kind):
    if kind == "micropython" and not MICROPYTHON.exists():
        pytest.skip("no MicroPython Unix port: make venv")
    m, s, path = open_pty()
    proc = subprocess.Popen(bench_hil.NULL_RESPONDERS[kind] + [path], cwd=str(ROOT),
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        size = len(_expected(0))
        assert size == bench_hil._reply_bytes()
        os.write(m, _request(4000))
        assert _read(m, size) == _expected(4000)
        req = _request(8000)  # one request in two writes (read in one piece or two)
        os.write(m, req[:30])
        os.write(m, req[30:])
        assert _read(m, size) == _expected(8000)  # (an answer to a part would come first)
        os.write(m, _request(12000) + _request(16000))  # two back to back
        assert _read(m, 2 * size) == _expected(12000) + _expected(16000)
        # the sim_time_ms words sit where the rig reads them: the check has teeth
        assert _expected(4000) != _expected(8000)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        os.close(m)
        os.close(s)
