# Persisted state survives kill -9 of the firmware process in the middle of writes (Unix port).
#
# A MicroPython writer loads the state, then saves records as fast as it can, printing each
# sequence number once save() has returned. Its store's file operations (write, close, remove,
# rename) go through thin wrappers that count them; at the operation the test chose, the writer
# says so ("AT write", half of the record written) and waits, and the test kills it with SIGKILL
# right there. Nothing depends on timing: every kill lands inside a save (or inside the
# recovery of a load), at a point the test knows. After every kill the state on disk must be the
# last acknowledged record or the one after it, intact, and load without a fault.
import os
import random
import signal
import subprocess
import sys

from conftest import MICROPYTHON, ROOT

sys.path.insert(0, str(ROOT / "firmware"))

from hal.store import ST_EMPTY, ST_FAULT, StateStore  # noqa: E402

WRITER = r"""
import os
import sys
sys.path.insert(0, "firmware")
from hal.store import StateStore, ST_FAULT
from afrr.config import Config
from afrr import persist

STOP = int(sys.argv[2])  # wait for the kill at the STOP-th file operation
ops = [0]

def point(name):
    ops[0] += 1
    if ops[0] == STOP:
        print("AT", name)
        sys.stdin.read(1)  # the test keeps stdin open and kills this process

class FS:
    def stat(self, p):
        return os.stat(p)

    def remove(self, p):
        point("remove")
        os.remove(p)

    def rename(self, a, b):
        point("rename" + a[a.rfind("."):])
        os.rename(a, b)

class File:
    def __init__(self, f):
        self.f = f

    def write(self, d):
        n = len(d) // 2
        self.f.write(d[:n])
        point("write")
        self.f.write(d[n:])

    def flush(self):
        self.f.flush()

    def close(self):
        point("close")
        self.f.close()

def opener(p, mode):
    f = open(p, mode)
    return File(f) if "w" in mode else f

def words(n):
    return [1, 1, n % 1000, -(n % 1000), n, 0, 0, 0, 0, n * 3, -n, 0, 1, 2, 3, 4, 5, 6, 7]

st = StateStore(sys.argv[1], FS(), opener)
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
    where = {}  # the operation each kill interrupted -> how often
    last_ack = -1
    saves = 0
    for i in range(iterations):
        stop = rng.randrange(1, 26)  # about five operations per save: up to the fifth save
        p = subprocess.Popen([str(MICROPYTHON), str(writer), path, str(stop)], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        lines = []
        while True:  # until the writer says where it stands (or ends, which is a failure)
            line = p.stdout.readline().decode()
            if not line or line.startswith("AT "):
                break
            lines.append(line.strip())
        os.kill(p.pid, signal.SIGKILL)
        _out, err = p.communicate(timeout=10)
        assert line.startswith("AT "), (lines, err.decode())
        assert p.returncode == -signal.SIGKILL, err.decode()
        where[line.split()[1]] = where.get(line.split()[1], 0) + 1
        head = lines[0].split()
        assert head[0] == "L", lines[0]
        # the writer itself loaded the previous run's state without a fault
        assert int(head[1]) in (last_ack, last_ack + 1), (head, last_ack)
        assert not int(head[2]) & ST_FAULT, lines[0]
        if len(lines) > 1:
            last_ack = int(lines[-1])
            saves += len(lines) - 1
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
    assert saves > iterations
    # kills landed at every step of a save: half a record in .tmp, before its close, and before
    # each of the two renames (POSIX renames onto the old .bak: no removal; the FAT path, with
    # one, is covered by tests/firmware/test_persist.py's crash points)
    assert set(where) == {"write", "close", "rename.bin", "rename.tmp"}, where
