# pymodbus (an independent client) against the firmware on the Unix port over a pty: every FC,
# every exception code, broadcast, bad CRC ignored, a frame split across reads, line noise.
import random
import time

import pytest
import serial
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse

from afrr import regmap
from afrr.config import field_index
from afrr.modbus import build_request, crc16
from hil import regcodec
from hil.link import MICROPYTHON, Link, UnixFirmware

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no Unix port: make venv")

SILENCE_MS = 20  # generous on a loaded CI machine; the split test pauses far less


@pytest.fixture(scope="module")
def link():
    lk = Link(UnixFirmware(silence_ms=SILENCE_MS)).open()
    c = _client(lk)
    assert _wait(c)
    c.close()
    yield lk
    lk.close()


def _client(lk, timeout=2.0):  # an overall limit: a loaded machine only answers later
    c = ModbusSerialClient(lk.client_path, framer=FramerType.RTU, baudrate=115200,
                           timeout=timeout, retries=0)
    assert c.connect()
    return c


def _wait(c):
    for _ in range(100):
        try:
            if not c.read_input_registers(0, count=1, device_id=1).isError():
                return True
        except ModbusException:
            pass
        time.sleep(0.05)
    return False


@pytest.fixture
def client(link):
    c = _client(link)
    yield c
    c.close()


def _raw(link, data, expect=0, wait_s=0.15):
    """Send raw bytes on the client pty; return what came back: `expect` bytes (waiting for
    them up to 10 s, however loaded the machine), or with expect=0 whatever came within wait_s
    (a check that nothing comes back)."""
    s = serial.serial_for_url(link.client_path, baudrate=115200, timeout=0)
    try:
        s.reset_input_buffer()
        s.write(data)
        got = b""
        t_end = time.monotonic() + (10.0 if expect else wait_s)
        while time.monotonic() < t_end and not (expect and len(got) >= expect):
            got += s.read(256)
            time.sleep(0.002)
        return got
    finally:
        s.close()


def _input(client, name):
    a, _n, kind, *_ = regcodec.input_by_name(name)
    r = client.read_input_registers(a, count=regmap.field_width(kind), device_id=1)
    assert not r.isError()
    w = r.registers
    return regcodec.words_s32(w[0], w[1]) if kind == regmap.S32 else w[0]


def test_fc03_fc06_fc16_roundtrip(client):
    assert not client.write_register(regcodec.holding_by_name("f_mhz")[0], 49876,
                                     device_id=1).isError()
    hi, lo = regcodec.s32_words(-250000)
    a = regcodec.holding_by_name("sched_kw")[0]
    r = client.write_registers(a, [hi, lo], device_id=1)
    assert not r.isError() and r.address == a and r.count == 2
    r = client.read_holding_registers(0, count=regmap.HOLD_COUNT, device_id=1)
    assert not r.isError() and len(r.registers) == regmap.HOLD_COUNT
    assert r.registers[0] == 49876
    assert regcodec.words_s32(*r.registers[a:a + 2]) == -250000


def test_fc04_and_mirror_agree(client):
    r4 = client.read_input_registers(0, count=regmap.INPUT_COUNT, device_id=1)
    r3 = client.read_holding_registers(regmap.MIRROR_BASE, count=regmap.INPUT_COUNT,
                                       device_id=1)
    assert not r4.isError() and not r3.isError()
    a = regcodec.input_by_name("fw_version")[0]
    assert r4.registers[a] == r3.registers[a] == regmap.VERSION


def test_fc23_lockstep_step(client):
    steps0 = _input(client, "steps")
    t0 = _input(client, "sim_time_ms")
    vals = {"f_mhz": 50100, "mode": 1, "soc_x100": 5000, "sim_time_ms": t0 + 4000,
            "tod_ms": 4000}
    r = client.readwrite_registers(read_address=regmap.MIRROR_BASE,
                                   read_count=regmap.INPUT_COUNT, write_address=0,
                                   values=regcodec.encode_holding(vals), device_id=1)
    assert not r.isError()
    out = regcodec.decode_input(r.registers)
    assert out["steps"] == steps0 + 1 and out["sim_time_ms"] == t0 + 4000
    assert out["ace_kw"] > 0 and out["mode"] == 1  # over-frequency: surplus
    assert out["p_set_kw"] <= 0  # downward or nothing yet, never upward


def test_config_block_through_pymodbus(client):
    a = regmap.CFG_BASE + 2 * field_index("deadband_kw")
    assert not client.write_registers(a, list(regcodec.s32_words(123)), device_id=1).isError()
    r = client.read_holding_registers(a, count=2, device_id=1)
    assert regcodec.words_s32(*r.registers) == 123


def test_exception_01_02_03(client):
    n0 = _input(client, "exceptions")
    r = client.read_device_information(device_id=1)  # FC 0x2B: not supported
    assert isinstance(r, ExceptionResponse) and r.exception_code == 1
    r = client.read_holding_registers(0x0200, count=2, device_id=1)  # reserved block
    assert isinstance(r, ExceptionResponse) and r.exception_code == 2
    r = client.write_register(regmap.MIRROR_BASE, 1, device_id=1)  # read-only mirror
    assert r.isError() and r.exception_code == 2
    mode_a = regcodec.holding_by_name("mode")[0]
    assert not client.write_register(mode_a, 2, device_id=1).isError()
    r = client.write_register(mode_a, 9, device_id=1)
    assert isinstance(r, ExceptionResponse) and r.exception_code == 3
    assert client.read_holding_registers(mode_a, count=1, device_id=1).registers == [2]
    assert _input(client, "exceptions") == n0 + 4


def test_broadcast_write_applies_without_reply(client, link):
    a = regcodec.holding_by_name("soc_x100")[0]
    b0 = _input(client, "broadcasts")
    assert client.write_register(a, 4321, device_id=0, no_response_expected=True) is None
    client.close()
    # nothing comes back on the wire for a broadcast
    assert _raw(link, build_request(0, 6, a, 1234)) == b""
    c = _client(link)
    try:
        assert c.read_holding_registers(a, count=1, device_id=1).registers == [1234]
        assert _input(c, "broadcasts") == b0 + 2
    finally:
        c.close()


def test_bad_crc_ignored_then_answered(link):
    c = _client(link)
    e0 = _input(c, "crc_errors")
    c.close()
    req = bytearray(build_request(1, 3, 0, 1))
    req[-2] ^= 0x55
    assert _raw(link, bytes(req)) == b""
    good = build_request(1, 3, 0, 1)
    reply = _raw(link, good, expect=7)
    assert reply[:3] == bytes([1, 3, 2]) and len(reply) == 7
    assert crc16(reply, 5, 0) == reply[5] | (reply[6] << 8)
    c = _client(link)
    try:
        assert _input(c, "crc_errors") == e0 + 1
    finally:
        c.close()


def test_frame_split_across_reads(link):
    req = build_request(1, 4, 0, 4)
    s = serial.serial_for_url(link.client_path, baudrate=115200, timeout=10)
    try:
        s.reset_input_buffer()
        s.write(req[:3])
        s.flush()
        time.sleep(0.003)  # well inside the firmware's silence: one frame, two reads
        s.write(req[3:])
        reply = s.read(3 + 8 + 2)
    finally:
        s.close()
    assert reply[:3] == bytes([1, 4, 8]) and len(reply) == 13


def test_random_bytes_then_still_answering(link):
    rng = random.Random(42)
    s = serial.serial_for_url(link.client_path, baudrate=115200, timeout=0)
    try:
        for _ in range(40):
            s.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))))
            time.sleep(rng.choice((0.0, 0.001, 0.03)))
        time.sleep(0.1)  # a silence ends the last garbage frame
        s.read(4096)  # whatever the noise provoked (a random frame can be valid)
    finally:
        s.close()
    c = _client(link)
    try:
        for k in range(20):
            r = c.read_holding_registers(0, count=2, device_id=1)
            assert not r.isError(), k
        assert _input(c, "crc_errors") > 0
    finally:
        c.close()
    assert link.firmware.alive()


def test_unix_pty_server_allocates_nothing_with_a_real_pty():
    """The Unix-port HAL (poll, readinto, write) + framing + codec + a control step per frame,
    heap locked after 5 replies, 100 lock-step frames over a real pty."""
    import os
    import subprocess

    from hil.link import ROOT, open_pty
    m, s, path = open_pty()
    p = subprocess.Popen([str(MICROPYTHON), "tests/mp_pty_alloc.py", path, "5"], cwd=str(ROOT),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sel = __import__("select").select

    def answer(wait_s):
        got = b""
        t_end = time.monotonic() + wait_s
        while len(got) < 5 + 16 and time.monotonic() < t_end:
            if sel([m], [], [], 0.02)[0]:
                got += os.read(m, 256)
        return got

    try:
        for _ in range(100):  # until the firmware has opened the pty
            os.write(m, build_request(1, 3, 0, 1))
            if answer(0.1):
                break
        n_ok = 0
        for k in range(1, 106):
            regs = regcodec.encode_holding({"f_mhz": 49990, "mode": 1, "soc_x100": 5000,
                                            "sim_time_ms": 4000 * k, "tod_ms": 4000 * k})
            os.write(m, build_request(1, 23, regmap.MIRROR_BASE, 8, 0, len(regs), data=regs))
            n_ok += answer(2.0)[:3] == bytes([1, 23, 16])
    finally:
        os.close(m)
        os.close(s)
        out, _ = p.communicate(timeout=10)
    assert n_ok == 105
    import re
    got = re.search(r"replies=(\d+) mem_delta=(-?\d+)", out)
    assert got and int(got.group(1)) >= 106 and int(got.group(2)) == 0, out
