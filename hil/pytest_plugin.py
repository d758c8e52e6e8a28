# pytest plugin of the HIL rig: the `dut`, `grid` and `rig` fixtures and the `--afrr-*` options.
#
# Installed with the project (entry point pytest11 "afrrbox" in pyproject.toml), so it loads in
# every pytest session of the venv: this module imports only pytest and the standard library at
# load time; the rig, pymodbus and the emulator are imported when a fixture is first used, and no
# firmware starts unless a test asks for `dut` or `rig`.
#
#   --afrr-target unix         the firmware on the MicroPython Unix port behind a pty (default)
#   --afrr-target cpython      the firmware's modules in this process (no link, no restart)
#   --afrr-target qemu         the firmware in QEMU, where this checkout has it (else skipped)
#   --afrr-target serial:PORT  a board on a serial port (/dev/ttyACM0, socket://host:port, ...)
#   --afrr-board NAME          board data of the unit, boards/NAME.py (`dut.board`)
#   --afrr-out DIR             keep each test's reports and firmware log in DIR/<test name>
# The objects themselves (Dut, Rig, RigResult) are in hil/testing.py.
import argparse
import pathlib
import re

import pytest


def _target(text):
    from hil.testing import check_target

    try:
        return check_target(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def pytest_addoption(parser):
    g = parser.getgroup("afrrbox", "afrrbox HIL fixtures (dut, grid, rig)")
    g.addoption("--afrr-target", default="unix", type=_target, metavar="TARGET",
                help="where `dut` and `rig` run the firmware: unix (the MicroPython Unix port "
                     "behind a pty, default), cpython (the firmware's modules in this "
                     "process, no link), qemu, or serial:PORT (a board)")
    g.addoption("--afrr-board", default=None, metavar="NAME",
                help="board data of the unit under test, boards/NAME.py (default: unix on the "
                     "unix and cpython targets, none elsewhere); the fixtures give it as dut.board")
    g.addoption("--afrr-out", default=None, metavar="DIR",
                help="keep each test's rig reports and firmware log in DIR/<test name> "
                     "(default: the test's tmp_path)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "afrr_world(path, scenario='quiet', seed=1, step_ms=100): the world file "
        "(and its arguments) of the `grid` fixture; default host/worlds/baltic.toml")
    board = config.getoption("afrr_board", None)
    if board is not None:
        from hil.testing import board_names

        if board not in board_names():
            raise pytest.UsageError("--afrr-board %s: unknown board (known: %s)"
                                    % (board, ", ".join(board_names())))
        target = config.getoption("afrr_target")
        if target in ("unix", "cpython") and board != "unix":
            raise pytest.UsageError("--afrr-board %s: the %s target runs the unix board; "
                                    "use --afrr-target serial:PORT for a board" % (board, target))


@pytest.fixture(scope="session")
def afrr_target(request):
    """The target string of --afrr-target."""
    return request.config.getoption("afrr_target")


@pytest.fixture(scope="session")
def afrr_board(request, afrr_target):
    """The board data module (boards/NAME.py) of --afrr-board, or None."""
    from hil.testing import load_board

    name = request.config.getoption("afrr_board")
    if name is None and afrr_target in ("unix", "cpython"):
        name = "unix"
    return load_board(name) if name else None


@pytest.fixture
def afrr_out(request, tmp_path):
    """This test's output folder: DIR/<test name> with --afrr-out DIR, else tmp_path."""
    base = request.config.getoption("afrr_out")
    if not base:
        return tmp_path
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    d = pathlib.Path(base).resolve() / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def _skip_unavailable(target):
    from hil.testing import TargetUnavailable, target_available

    try:
        target_available(target)
    except TargetUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture
def dut(request, afrr_target, afrr_board, afrr_out):
    """A started firmware on --afrr-target with a Modbus client (hil.testing.Dut); stopped after
    the test, its output in <afrr_out>/firmware.log."""
    from hil.testing import Dut, DutError

    _skip_unavailable(afrr_target)
    d = Dut(afrr_target, board=afrr_board, out_dir=afrr_out)
    try:
        d.start()
    except DutError as e:
        pytest.fail(str(e), pytrace=False)
    request.node.user_properties.append(("afrr_target", afrr_target))
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def grid(request):
    """A host.grid.Simulator of the world of @pytest.mark.afrr_world (default: Baltic)."""
    from hil.testing import DEFAULT_WORLD, find_file
    from host.grid import Simulator, WorldError

    m = request.node.get_closest_marker("afrr_world")
    args, kwargs = (m.args, dict(m.kwargs)) if m is not None else ((), {})
    path = find_file(args[0] if args else DEFAULT_WORLD)
    if not path.exists():
        pytest.fail("afrr_world: no such world file %s" % path, pytrace=False)
    try:
        return Simulator(str(path), *args[1:], **kwargs)
    except (WorldError, ValueError, TypeError) as e:
        pytest.fail("afrr_world(%s): %s" % (path, e), pytrace=False)


@pytest.fixture
def rig(request, afrr_target, afrr_out):
    """rig.run(scenario_path, **overrides) runs a scenario on --afrr-target and returns a
    hil.testing.RigResult (passed, summary, timeseries, report_dir); reports in afrr_out."""
    from hil.testing import Rig

    _skip_unavailable(afrr_target)
    r = Rig(afrr_target, afrr_out)
    yield r
    for res in r.results:  # for CI: the JUnit XML names each report folder
        request.node.user_properties.append(("afrr_report", str(res.report_dir)))
