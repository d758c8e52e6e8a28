# Unix-port workload for the footprint benchmark: the firmware's run-time objects on one heap.
#
#   micropython -X heapsize=N bench/mpy_footprint.py <module dir> <board> <steps> <state path>
#
# Imports the compiled modules from <module dir> (build/<board>/), builds what main.py builds
# (Config with the board's unit defaults, Controller, register bank, Modbus RTU endpoint, the
# frequency meter fed by the zero-crossing ring buffer, the watchdog feeder, the state store) and
# runs <steps> lock-step cycles: one FC23 request through the Modbus codec (measurements + new
# simulated time -> one control step -> reply), 50 zero-crossing edges through the IRQ ring
# buffer into the meter, a feed of the watchdog, and a state save every 225 steps (15 min).
# Prints "ok <steps> <p_set_kw> <steps run> <live bytes after start> <live bytes at the end>";
# a MemoryError means the heap was too small.
import gc
import sys

sys.path[:0] = [sys.argv[1], "."]  # the module dir, or "firmware" plus the repo root
STEPS = int(sys.argv[3])
STATE = sys.argv[4]

import boards  # noqa: E402

board = boards.load(sys.argv[2])

from hal.store import StateStore  # noqa: E402
from hal.wdt import Feeder  # noqa: E402
from hal.zerocross import TICK_PERIOD, ZeroCross  # noqa: E402

from afrr import persist  # noqa: E402
from afrr.config import Config  # noqa: E402
from afrr.controller import Controller  # noqa: E402
from afrr.freqmeas import FreqMeter  # noqa: E402
from afrr.modbus import RTU, crc16  # noqa: E402
from afrr.regmap import HOLDING, LOCKSTEP_WRITE_ADDR, LOCKSTEP_WRITE_COUNT, S32  # noqa: E402
from afrr.unitregs import UnitRegisters, _put_be  # noqa: E402

# controller.MODE_LOCAL: a board build (mpy-cross -O3) keeps no public constant names
MODE_LOCAL = 1


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


class NullWDT:
    def feed(self):
        pass


cfg = Config(**board.UNIT_DEFAULTS)
ctl = Controller(cfg)
ctl.set_mode(MODE_LOCAL)
bank = UnitRegisters(ctl, cfg, 1, True)
rtu = RTU(bank)
bank.rtu = rtu
clk = Clock()
zc = ZeroCross(clk, 64)
fm = FreqMeter(n_avg=50, tick_period=TICK_PERIOD)
feeder = Feeder(NullWDT())
store = StateStore(STATE)
store.load()

# one preallocated FC23 request: read 16 input-mirror registers, write the lock-step block
n_w = LOCKSTEP_WRITE_COUNT
req = bytearray(13 + 2 * n_w)
hdr = (1, 0x17, 0x00, 0x80, 0x00, 16, LOCKSTEP_WRITE_ADDR >> 8, LOCKSTEP_WRITE_ADDR & 0xFF,
       0x00, n_w, 2 * n_w)
for i in range(11):
    req[i] = hdr[i]


ADDR = {row[1]: (row[0], row[2] == S32) for row in HOLDING}  # name -> (address, is s32)


def put(name, v):
    reg, s32 = ADDR[name]
    _put_be(req, 11 + 2 * (reg - LOCKSTEP_WRITE_ADDR), v, s32)


gc.collect()
live_start = gc.mem_alloc()  # bytes live once everything main.py builds exists
sim_ms = 0
t_us = 0
p_set = 0
for k in range(STEPS):
    f_mhz = 50000 + ((k * 37) % 301) - 150
    sim_ms += 4000
    put("f_mhz", f_mhz)
    put("mode", MODE_LOCAL)
    put("soc_x100", 5000)
    put("age_ms", 100)
    put("tod_ms", (k * 4000) % 86400000)
    put("sim_time_ms", sim_ms)  # a new simulated time runs one control step
    c = crc16(req, len(req) - 2, 0)
    req[-2] = c & 0xFF
    req[-1] = c >> 8
    rtu.feed(len(req), req)
    n = rtu.complete()
    if n <= 0:
        raise SystemExit("no reply at step %d" % k)
    for _ in range(50):
        t_us += 1000000000 // f_mhz
        clk.t = t_us
        zc.irq(None)
    zc.drain(fm)
    fm.read(zc.now())
    feeder.step_done(True, 0)
    if k % 225 == 224:
        store.save(ctl.state_words(), persist.config_words(cfg))
    p_set = ctl.out.p_set_kw
gc.collect()
print("ok", STEPS, p_set, bank.steps, live_start, gc.mem_alloc())
