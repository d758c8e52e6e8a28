# Runs a controller over an input trace file and prints one output line per step.
# The same file runs under CPython (imported by tests) and the Unix port (as a script):
#   micropython tests/mpy/trace_driver.py TRACE
# Trace line: config line first ("cfg name=value ..."), then per step
#   mode dt_ms tod_ms f_mhz sched_kw age_ms soc_x100 remote_seq remote_sp_kw tie0 .. tie7
import sys

if "firmware" not in sys.path:
    sys.path.insert(0, "firmware")
from afrr.config import Config  # noqa: E402
from afrr.controller import Controller  # noqa: E402


def run_lines(lines):
    """Yield one output string per step line."""
    ctl = None
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "cfg":
            kw = {}
            for p in parts[1:]:
                k, v = p.split("=")
                kw[k] = int(v)
            ctl = Controller(Config(**kw))
            continue
        v = [int(x) for x in parts]
        m = ctl.meas
        ctl.set_mode(v[0])
        m.tod_ms, m.f_mhz, m.sched_kw, m.age_ms, m.soc_x100 = v[2], v[3], v[4], v[5], v[6]
        if v[7] != m.remote_seq:
            m.remote_seq = v[7]
            m.remote_sp_kw = v[8]
        for i in range(8):
            m.ties_kw[i] = v[9 + i]
        o = ctl.step(m, v[1])
        en = ctl.energy
        yield "%d %d %d %d %d %d %d %d %d %d %d %d %d" % (
            o.p_set_kw, o.ace_kw, o.frce_kw, o.p_pi_kw, o.lim_up_kw, o.lim_down_kw, o.integ_kw,
            o.flags, o.fault_cycles, en.up_kws, en.down_kws, en.prev_up_wh, en.prev_down_wh)


def main(path):
    with open(path) as f:
        for out in run_lines(f):
            print(out)


if __name__ == "__main__":
    main(sys.argv[1])
