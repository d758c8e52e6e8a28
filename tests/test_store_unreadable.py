# End to end: the Unix-port firmware started with a directory as its state file still starts,
# serves Modbus and reports the state fault (status bit 8) instead of dying with a traceback.
import os
import select
import time

from afrr import regmap
from afrr.modbus import build_request, crc16
from hil import regcodec
from hil.link import UnixFirmware

STATUS = regcodec.input_by_name("status")[0]


def read_status(master, proc, deadline_s=60.0):
    """Resend the read until an answer comes (the firmware may still be starting)."""
    req = build_request(1, 0x04, STATUS, 1)
    t_end = time.monotonic() + deadline_s
    while time.monotonic() < t_end and proc.poll() is None:
        os.write(master, req)
        got = b""
        t_try = time.monotonic() + 0.5
        while len(got) < 7 and time.monotonic() < t_try:
            if select.select([master], [], [], 0.05)[0]:
                got += os.read(master, 256)
        if len(got) >= 7 and crc16(got, 5, 0) == got[5] | (got[6] << 8):
            return (got[3] << 8) | got[4]
    return None


def test_firmware_with_a_directory_as_state_file_starts_and_flags_it(tmp_path):
    state = tmp_path / "state.bin"
    state.mkdir()
    fw = UnixFirmware(source=True, state_file=state).start()
    try:
        status = read_status(fw.master, fw.proc)
    finally:
        out = fw.stop()
    assert "Traceback" not in out, out
    assert status is not None, out
    assert status & regmap.ST_STATE_FAULT
