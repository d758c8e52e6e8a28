# End to end: firmware/main.py (Unix port, --state-file) is killed with SIGKILL while it serves
# lock-step steps and saves state; every time, the file on disk loads without a fault, and the
# restarted firmware serves the restored set-point before its first step. The kill comes after a
# random number of answered steps, right after the next step's request went out (the firmware
# saves every 15 steps, after the step and before its reply): where it lands in the firmware
# does not matter to the checks, and no count depends on timing.
import os
import random
import select
import signal
import subprocess
import time

from hal.store import ST_FAULT, StateStore

from afrr import regmap
from afrr.modbus import build_request, crc16
from conftest import MICROPYTHON, ROOT
from hil import regcodec
from hil.link import open_pty

P_SET = regcodec.input_by_name("p_set_kw")[0]


class Firmware:
    def __init__(self, state):
        self.master, self.slave, path = open_pty()
        self.p = subprocess.Popen([str(MICROPYTHON), "firmware/main.py", "--device",
                                   path, "--state-file", state], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def call(self, req, n_reply, first=False):
        """Send a request, return the reply (resending while the firmware starts)."""
        for _ in range(100 if first else 3):
            os.write(self.master, req)
            got = b""
            t_end = time.monotonic() + (0.1 if first else 1.0)
            while len(got) < n_reply and time.monotonic() < t_end and self.p.poll() is None:
                if select.select([self.master], [], [], 0.02)[0]:
                    try:
                        got += os.read(self.master, 256)
                    except OSError:
                        return None
            if len(got) >= n_reply:
                assert crc16(got, n_reply - 2, 0) == got[n_reply - 2] | (got[n_reply - 1] << 8)
                return got
            if self.p.poll() is not None:
                return None
        return None

    @staticmethod
    def step_request(k):
        f = 50000 + (150 if (k // 40) % 2 else -150)  # the set-point keeps moving
        vals = {"f_mhz": f, "mode": 1, "soc_x100": 5000, "age_ms": 100,
                "tod_ms": (4000 * k) % 86400000, "sim_time_ms": 4000 * (k + 1)}
        data = regcodec.encode_holding(vals)
        return build_request(1, 0x17, regmap.MIRROR_BASE, 2, regmap.LOCKSTEP_WRITE_ADDR,
                             len(data), data=data)

    def step(self, k):
        return self.call(self.step_request(k), 9)

    def p_set(self):
        r = self.call(build_request(1, 0x04, P_SET, 2), 9, first=True)
        return regcodec.words_s32((r[3] << 8) | r[4], (r[5] << 8) | r[6])

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate(timeout=10)
        os.close(self.master)
        os.close(self.slave)


def test_firmware_killed_during_saves_restarts_from_its_state(tmp_path):
    rng = random.Random(77)
    state = str(tmp_path / "state.bin")
    k = 0
    restored = 0
    for _ in range(12):
        fw = Firmware(state)
        try:
            assert fw.p_set() is not None
            for _ in range(rng.randrange(9, 40)):
                assert fw.step(k) is not None, k
                k += 1
            os.write(fw.master, fw.step_request(k))  # the next step, and the kill behind it
            fw.p.send_signal(signal.SIGKILL)
            assert fw.p.wait(timeout=10) == -signal.SIGKILL
        finally:
            fw.close()
        st = StateStore(state)
        rec = st.load()
        if rec is None:
            continue  # killed before its first save
        assert not st.status & ST_FAULT, (st.status, st.reasons)
        fw = Firmware(state)
        try:
            assert fw.p_set() == rec[1][2]  # words[2] is the set-point in force, kW
            restored += 1
        finally:
            fw.close()
    assert k > 100 and restored >= 8
