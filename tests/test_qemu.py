# The firmware on an emulated Cortex-M3 (MicroPython's qemu port, MPS2-AN385, firmware frozen in):
# the default HIL scenario passes over the board's UART with set-points bit-identical to the Unix
# port, the controller gives the same outputs as CPython on a long input trace, and the
# start-up answers. Needs the image from `make micropython` (tools/build_micropython.py);
# `make test` builds it first when the toolchain is there and skips these tests otherwise.
import sys

import pytest

from conftest import ROOT
from hil import qemu

sys.path.insert(0, str(ROOT / "tests" / "mpy"))
import trace_driver  # noqa: E402
from test_mpy_runtime import make_trace  # noqa: E402

from afrr.controller import F_FAILSAFE, F_RAMP, F_SAT_HIGH, F_SAT_LOW, F_SOC_LIMIT  # noqa: E402

needs_qemu = pytest.mark.skipif(qemu.not_ready() is not None, reason=str(qemu.not_ready()))

DEFAULT = ROOT / "hil" / "scenarios" / "default.toml"
# link counters that count the rig's start-up polls too; every other output must be identical
_LINK_ONLY = ("frames_ok",)


def _run(target):
    from hil.runner import Run, summarize
    from hil.scenario import load

    run = Run(load(DEFAULT), target=target, progress=False)
    run.execute()
    summary, _acc = summarize(run)
    return run, summary


@needs_qemu
def test_default_scenario_passes_with_the_unix_ports_setpoints():
    q_run, q = _run("qemu")
    assert q["passed"], [c for c in q["criteria"] if not c["ok"]]
    assert q["steps"] == 900 and q["steps_failed"] == 0
    assert q["fw_crc_errors"] == 0 and q["fw_exceptions"] == 0
    assert "littlefs" in q_run.firmware_log  # the store was on the RAM littlefs
    u_run, u = _run("unix")
    assert u["passed"]
    p_q = [s["out"]["p_set_kw"] for s in q_run.steps]
    p_u = [s["out"]["p_set_kw"] for s in u_run.steps]
    assert p_q == p_u
    assert len(set(p_q)) > 100 and max(p_q) == 1000  # the run moved the unit, to its limit
    for a, b in zip(q_run.steps, u_run.steps):
        oa = {k: v for k, v in a["out"].items() if k not in _LINK_ONLY}
        ob = {k: v for k, v in b["out"].items() if k not in _LINK_ONLY}
        assert oa == ob, (a["t_s"], oa, ob)


_DRIVER = """
def _lines():
    while True:
        ln = sys.stdin.readline()
        if ln.startswith("end"):
            return
        yield ln


for _out in run_lines(_lines()):
    print(_out)
"""


@needs_qemu
def test_differential_controller_trace_identical_on_the_mcu():
    lines = make_trace(seed=20251128, n=3000)
    cpython = list(trace_driver.run_lines(lines))
    src = (ROOT / "tests" / "mpy" / "trace_driver.py").read_text()
    code = src.split("\nif __name__")[0] + _DRIVER
    fw = qemu.QemuFirmware(app=False).start()
    try:
        out = fw.exec(code, feed=("\n".join(lines) + "\nend\n").encode())
    finally:
        fw.stop()
    got = [ln for ln in out.splitlines() if ln.strip()]
    assert len(cpython) == 3000
    assert got == cpython
    flags = 0
    for row in cpython:
        flags |= int(row.split()[7])
    for bit in (F_FAILSAFE, F_RAMP, F_SAT_HIGH, F_SAT_LOW, F_SOC_LIMIT):
        assert flags & bit, hex(bit)


@needs_qemu
def test_board_reports_itself_and_stops_cleanly():
    fw = qemu.QemuFirmware(app=False).start()
    try:
        assert fw.board == "qemu_mps2"
        assert fw.storage == "littlefs on a 6144-byte RAM block device at /ram"
        out = fw.exec("import sys\nprint(sys.platform, sys.maxsize, "
                      "sys.implementation._build)\n")
        assert out.split() == ["qemu", str(2**31 - 1), "MPS2_AN385"]  # a 32-bit MCU port
        proc = fw.proc
    finally:
        log = fw.stop()
    assert proc.poll() is not None  # QEMU has ended: no orphan
    assert "char device redirected to /dev/pts/" in log


def test_a_missing_image_is_one_line(tmp_path):
    from hil.link import LinkError

    fw = qemu.QemuFirmware(image=tmp_path / "none.elf")
    with pytest.raises(LinkError, match="make micropython"):
        fw.start()
    assert fw.proc is None
