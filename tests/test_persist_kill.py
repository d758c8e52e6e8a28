# Persisted state survives kill -9 of the firmware process in the middle of writes (Unix port).
#
# A MicroPython writer loads the state, then saves records as fast as it can, printing each
# sequence number once save() has returned. The test kills it with SIGKILL after a random
# few milliseconds, many times, and after every kill checks that the state on disk is the last
# acknowledged record or the one after it, intact, and loads without a fault. This is the one
# place where tests use the wall clock: the point of the kill must be unpredictable.
import os
import random
import signal
import subprocess
import sys
import time

from conftest import MICROPYTHON, ROOT

sys.path.insert(0, str(ROOT / "firmware"))

from hal.store import ST_EMPTY, ST_FAULT, StateStore  # noqa: E402

WRITER = r"""
import sys
sys.path.insert(0, "firmware")
from hal.store import StateStore, ST_FAULT
from afrr.config import Config
from afrr import persist

def words(n):
    return [1, 1, n % 1000, -(n % 1000), n, 0, 0, 0, 0, n * 3, -n, 0, 1, 2, 3, 4, 5, 6, 7]

st = StateStore(sys.argv[1])
rec = st.load()
print("L", -1 if rec is None else rec[0], st.status)
cfg = persist.config_words(Config())
while True:
    n = st.save(words(st.seq + 1), cfg)
    print(n)
"""


def words(n):
    return [1, 1, n % 1000, -(n % 1000), n, 0, 0, 0, 0, n * 3, -n, 0, 1, 2, 3, 4, 5, 6, 7]


def test_state_survives_kill_during_writes(tmp_path):
    rng = random.Random(1234)
    path = str(tmp_path / "state.bin")
    writer = tmp_path / "writer.py"
    writer.write_text(WRITER)
    iterations = 60
    torn = 0  # kills that left a .tmp behind or caught the renames
    last_ack = -1
    saves = 0
    for i in range(iterations):
        p = subprocess.Popen([str(MICROPYTHON), str(writer), path], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.015 + rng.random() * 0.03)
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate(timeout=10)
        assert p.returncode == -signal.SIGKILL, err.decode()
        lines = out.decode().split("\n")[:-1]  # drop a line cut short by the kill
        if lines:  # else killed during start-up, before its first load finished
            head = lines[0].split()
            assert head[0] == "L", lines[0]
            # the writer itself loaded the previous run's state without a fault
            assert int(head[1]) in (last_ack, last_ack + 1), (head, last_ack)
            assert not int(head[2]) & ST_FAULT, lines[0]
            if len(lines) > 1:
                last_ack = int(lines[-1])
                saves += len(lines) - 1
        if os.path.exists(path + ".tmp") or not os.path.exists(path):
            torn += 1
        st = StateStore(path)
        rec = st.load()
        if rec is None:
            assert last_ack < 0 and st.status == ST_EMPTY
            continue
        seq, ctl, cfg = rec
        assert seq in (last_ack, last_ack + 1), (seq, last_ack, st.reasons, lines[-3:], err)
        assert ctl == words(seq)
        assert not st.status & ST_FAULT, (st.status, st.reasons)
        last_ack = seq
    assert saves > iterations  # the writer got past start-up in most runs
    assert torn >= 1, "no kill landed inside a save: the test did not test anything"
