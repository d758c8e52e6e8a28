# The objects behind the pytest fixtures (hil/pytest_plugin.py): Dut, Rig, RigResult; no pytest.
#
# Dut: one started firmware on a target, driven by register-map names. It keeps the lock-step
# measurement block (holding 0x0000..0x001B) as the firmware holds it: write() updates a field
# there and in the firmware; step(dt_ms) sends the block again with sim_time_ms (and tod_ms)
# advanced by dt_ms in one FC23 transaction, which runs exactly one control step, and returns
# that step's outputs. A transaction without a valid answer is tried again (same simulated time:
# the firmware never steps twice for one time value); a refusal (exception response) is not.
#
# Targets are the strings of `python -m hil run --target`: "unix", "cpython" (the firmware's
# modules in this process, no link: hil/inproc.py), "qemu", "serial:PORT".
# "qemu" is hil/qemu.py's emulated board (its unit address and state file come from its board
# data; restarts need "unix"); not_ready() there says why it cannot run (no QEMU, no image).
import importlib
import importlib.util
import pathlib
import tempfile
import types

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_WORLD = "host/worlds/baltic.toml"
DAY_MS = 86_400_000
TARGET_HELP = "unix, cpython, qemu or serial:PORT (e.g. serial:/dev/ttyACM0)"


class TargetUnavailable(Exception):
    """The chosen target cannot run here (a test using it is skipped with this line)."""


class DutError(Exception):
    """The unit under test did not answer, refused a request, or exited: one line."""


class RigError(Exception):
    """A scenario run could not be made (bad scenario, no firmware, no answer): one line."""


def check_target(text):
    """The target string if valid, else ValueError naming the allowed forms."""
    if text in ("unix", "cpython", "qemu") or (text.startswith("serial:") and len(text) > 7):
        return text
    raise ValueError("unknown target %r: use %s" % (text, TARGET_HELP))


def board_names():
    """Names of the board data modules in boards/ (boards/NAME.py)."""
    return sorted(p.stem for p in (ROOT / "boards").glob("*.py")
                  if not p.stem.startswith(("_", "manifest")))


def load_board(name):
    """The board data module boards/NAME.py, loaded from its file."""
    if name not in board_names():
        raise ValueError("unknown board %r (known: %s)" % (name, ", ".join(board_names())))
    spec = importlib.util.spec_from_file_location("afrr_board_" + name,
                                                  ROOT / "boards" / (name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def find_file(path):
    """A path as given if it exists (absolute, or relative to the working directory), else
    relative to the project (so "hil/scenarios/default.toml" works from any directory)."""
    p = pathlib.Path(path)
    if p.is_absolute() or p.exists():
        return p
    return ROOT / p if (ROOT / p).exists() else p


def _qemu():
    """hil.qemu, or TargetUnavailable saying why not."""
    if importlib.util.find_spec("hil.qemu") is None:
        raise TargetUnavailable("target qemu: not in this checkout (no hil/qemu.py)")
    mod = importlib.import_module("hil.qemu")
    why = mod.not_ready()
    if why:
        raise TargetUnavailable("target qemu: %s" % why)
    return mod


def target_available(target):
    """Raise TargetUnavailable when `target` cannot run here."""
    if target == "qemu":
        _qemu()


def open_link(target, unit_id=1, state_file=None):
    """An opened hil.link.Link to the firmware on `target` (started, for unix and qemu), or
    for cpython a hil.inproc.InProcessLink (its `client` speaks to the firmware in-process)."""
    from hil.link import Link, UnixFirmware

    if target == "cpython":
        from hil.inproc import InProcessLink

        return InProcessLink(unit=unit_id)
    if target == "unix":
        fw = UnixFirmware(unit=unit_id, state_file=state_file)
    elif target == "qemu":  # unit address and state file come from the board (qemu_mps2)
        mod = _qemu()
        return mod.QemuLink(mod.QemuFirmware(), None, 1, []).open()
    else:
        return Link(device=check_target(target)[len("serial:"):]).open()
    return Link(fw).open()


class Outputs(types.SimpleNamespace):
    """The input registers of one step, as attributes named as in the register map."""


def _last_line(log):
    lines = [ln for ln in (log or "").splitlines() if ln.strip()]
    return " (firmware said: %s)" % lines[-1] if lines else ""


class Dut:
    """A started firmware on `target` with a Modbus client; see the module comment."""

    def __init__(self, target="unix", board=None, out_dir=None, baud=115200, timeout_s=2.0,
                 tries=3, ready_s=60.0, unit_id=1):
        self.target = check_target(target)
        self.board = board  # board data module (boards/NAME.py) or None
        self.out_dir = pathlib.Path(out_dir) if out_dir else None
        self.baud = baud
        self.timeout_s = timeout_s  # per transaction; generous: an answer ends the wait
        self.tries = tries
        self.ready_s = ready_s  # start-up: until the firmware first answers
        self.unit_id = unit_id
        self.link = self.unit = self.client = None
        self.firmware_log = ""
        self._state = None  # temporary folder with the persisted state (unix, qemu)
        self._block = {}  # the lock-step measurement block as the firmware holds it

    # -- life cycle ----------------------------------------------------------------------------
    def start(self):
        target_available(self.target)
        from hil.link import LinkError

        state_file = None
        if self.target in ("unix", "qemu"):
            self._state = tempfile.TemporaryDirectory(prefix="afrr-dut-")
            state_file = pathlib.Path(self._state.name) / "afrr_state.bin"
        try:
            self.link = open_link(self.target, self.unit_id, state_file)
        except (LinkError, OSError) as e:
            self.stop()
            raise DutError("%s: %s" % (self.target, e))
        self._connect()
        return self

    def _connect(self):
        from hil.client import ClientError, Unit, make_client

        if self.target == "cpython":
            self.client = self.link.client
        else:
            self.client = make_client(self.link.client_path, self.baud, self.timeout_s)
        self.unit = Unit(self.client, self.unit_id)
        fw = self.link.firmware
        try:
            self.unit.connect()
            self.unit.wait_ready(timeout_s=self.ready_s,
                                 alive=fw.alive if fw is not None else None)
        except ClientError as e:
            self.stop()
            raise DutError("%s: %s%s" % (self.target, e, _last_line(self.firmware_log)))
        self._sync()

    def _sync(self):
        """Read the measurement block back from the firmware (after start and restart)."""
        from afrr import regmap

        regs = self._transact("read of the measurement block", lambda: self._regs(
            self.client.read_holding_registers, regmap.LOCKSTEP_WRITE_ADDR,
            regmap.LOCKSTEP_WRITE_COUNT))
        self._block = {}
        for addr, name, kind, _u, _lo, _hi, _t, _i in regmap.HOLDING:
            if addr < regmap.LOCKSTEP_WRITE_COUNT:
                self._block[name] = self._decode(kind, regs[addr:addr + 2])

    def stop(self):
        """Close the client, stop the firmware; its output goes to out_dir/firmware.log."""
        if self.unit is not None:
            self.unit.close()
            self.unit = None
        if self.link is not None:
            self.firmware_log += self.link.close() or ""
            ran_it = self.link.firmware is not None  # the rig ran this firmware's process
            self.link = None
            if self.out_dir is not None and ran_it:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                (self.out_dir / "firmware.log").write_text(self.firmware_log)
        if self._state is not None:
            self._state.cleanup()
            self._state = None

    def restart(self):
        """Kill the firmware (as a crash) and start it again: what it persisted comes back.
        The measurement block and simulated time are then the new process's."""
        if self.target not in ("unix", "qemu"):
            raise TargetUnavailable("restart(): the rig cannot restart the firmware on %s (only "
                                    "a process it runs: unix, qemu)" % self.target)
        self.unit.close()
        self.link.restart_firmware()
        self._connect()

    # -- transactions --------------------------------------------------------------------------
    def _alive(self):
        fw = self.link.firmware if self.link is not None else None
        return fw is None or fw.alive()

    def _transact(self, what, fn):
        """fn() -> a result, or None when there was no valid answer; tried self.tries times.
        An exception response is a refusal: not tried again."""
        for _k in range(self.tries):
            r = fn()
            if r is not None:
                return r
            if self.unit.last_error.startswith("exception"):
                raise DutError("%s refused by the firmware: %s (02: address or a partial field; "
                               "03: a value outside its range or a cross-field rule)"
                               % (what, self.unit.last_error))
            if not self._alive():
                log = self.link.firmware.stop() if self.link.firmware else ""
                self.firmware_log += log
                raise DutError("%s: firmware exited%s" % (what, _last_line(self.firmware_log)))
        raise DutError("%s: no valid answer from %s in %d tries of %.1f s (%s)"
                       % (what, self.target, self.tries, self.timeout_s, self.unit.last_error))

    def _regs(self, fn, address, count):
        """Registers of one read (fn: a read method of the client), or None."""
        r = self.unit.request(fn, address=address, count=count)
        return None if r is None else r.registers

    def _write_regs(self, address, values):
        r = self.unit.request(self.client.write_registers, address=address, values=list(values))
        return None if r is None else True

    @staticmethod
    def _decode(kind, words):
        from afrr import regmap
        from hil import regcodec

        return regcodec.words_s32(words[0], words[1]) if kind == regmap.S32 else words[0]

    # -- by register-map name ------------------------------------------------------------------
    @staticmethod
    def _lookup(name):
        """(space, address, kind, row) of a register-map name: "input", "holding" or "config".
        A name in both the input and holding tables (mode, sim_time_ms) reads as input."""
        from afrr import regmap
        from afrr.config import field_index

        for row in regmap.INPUT:
            if row[1] == name:
                return "input", row[0], row[2], row
        for row in regmap.HOLDING:
            if row[1] == name:
                return "holding", row[0], row[2], row
        i = field_index(name)
        if i is not None:
            return "config", regmap.CFG_BASE + 2 * i, regmap.S32, None
        raise ValueError("no register or config field named %r in the register map "
                         "(`python -m hil regmap` lists them)" % name)

    def read(self, name):
        """The value of a register or config field by name (s32 fields joined, signed)."""
        from afrr import regmap

        space, addr, kind, _row = self._lookup(name)
        fn = self.client.read_input_registers if space == "input" \
            else self.client.read_holding_registers
        regs = self._transact("read %s" % name,
                              lambda: self._regs(fn, addr, regmap.field_width(kind)))
        return self._decode(kind, regs)

    def write(self, name, value):
        """Write a holding register or a config field by name (s32 fields as two words)."""
        from afrr import regmap
        from hil import regcodec

        value = int(value)
        space, addr, kind, _row = self._lookup(name)
        if space == "input" and name not in ("mode", "sim_time_ms"):
            raise ValueError("%s is an input register (read-only)" % name)
        if space == "input":  # the holding register of the same name
            for row in regmap.HOLDING:
                if row[1] == name:
                    addr = row[0]
        if kind == regmap.S32:
            if not -2**31 <= value < 2**31:
                raise ValueError("%s=%d does not fit in 32 bits" % (name, value))
            words = regcodec.s32_words(value)
        else:
            if not 0 <= value <= 0xFFFF:
                raise ValueError("%s=%d does not fit in 16 bits" % (name, value))
            words = (value,)
        self._transact("write %s=%d" % (name, value), lambda: self._write_regs(addr, words))
        if name in self._block:
            self._block[name] = value
        if name == "unit_id":
            self.unit_id = self.unit.unit_id = value

    def configure(self, **fields):
        """Change config fields in one write of the whole block (cross-field rules hold as a
        whole); returns the configuration in force, read back."""
        from afrr.config import field_index

        bad = sorted(k for k in fields if field_index(k) is None)
        if bad:
            raise ValueError("unknown config field(s): %s (see FIELDS in firmware/afrr/regmap.py)"
                             % ", ".join(bad))
        cfg = self._transact("read of the configuration", self.unit.read_config)
        cfg.update({k: int(v) for k, v in fields.items()})
        what = "configuration %s" % ", ".join("%s=%s" % kv for kv in sorted(fields.items()))
        self._transact(what, lambda: self._write_config(cfg))
        return self._transact("read of the configuration", self.unit.read_config)

    def _write_config(self, cfg):
        from hil.client import ClientError

        try:
            self.unit.write_config(cfg)
        except ClientError:
            return None
        return True

    def set_mode(self, mode):
        """"off", "local" or "remote"."""
        from hil.scenario import MODES

        if mode not in MODES:
            raise ValueError("mode %r: use %s" % (mode, ", ".join(MODES)))
        self.write("mode", MODES[mode])

    def step(self, dt_ms):
        """One lock-step control step of dt_ms simulated ms; the outputs of exactly that step."""
        from afrr import regmap

        dt_ms = int(dt_ms)
        t = self._block["sim_time_ms"] + dt_ms
        if dt_ms <= 0 or t > regmap.S32_MAX:
            raise ValueError("dt_ms=%d: must be > 0 and keep sim_time_ms <= %d"
                             % (dt_ms, regmap.S32_MAX))
        block = dict(self._block, sim_time_ms=t,
                     tod_ms=(self._block["tod_ms"] + dt_ms) % DAY_MS)
        out = self._transact("step to sim_time_ms=%d" % t, lambda: self.unit.lockstep(block))
        if out["sim_time_ms"] != t:  # the answer must be that of this step
            raise DutError("step to sim_time_ms=%d answered for sim_time_ms=%d"
                           % (t, out["sim_time_ms"]))
        self._block = block
        return Outputs(**out)

    def outputs(self):
        """Every input register now (FC04), without stepping."""
        return Outputs(**self._transact("read of the outputs", self.unit.read_outputs))


class RigResult:
    """A finished scenario run: passed, summary (as summary.json), timeseries, report_dir."""

    def __init__(self, summary, samples, report_dir):
        import numpy as np

        self.summary = summary
        self.report_dir = pathlib.Path(report_dir)
        names = ("t_s", "f_mhz", "area_ace_kw", "sp_req_kw", "p_set_kw", "p_kw", "soc",
                 "failsafe", "link_ok")
        self.timeseries = {n: np.array([s[n] for s in samples]) for n in names}

    @property
    def passed(self):
        return bool(self.summary["passed"])

    @property
    def failed(self):
        """The failed criteria, one string each: "metric = value (bound)"."""
        out = []
        for c in self.summary["criteria"]:
            if not c["ok"]:
                bound = [b % c[k] for k, b in (("min", ">= %s"), ("max", "<= %s"))
                         if c[k] is not None]
                out.append("%s = %s (needs %s)" % (c["metric"], c["value"], " and ".join(bound)))
        return out

    def __repr__(self):
        verdict = "PASS" if self.passed else "FAIL: " + "; ".join(self.failed)
        return "RigResult(%s %s; report %s)" % (self.summary["scenario"], verdict,
                                                self.report_dir)


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if isinstance(v, (list, tuple)):
        return "[%s]" % ", ".join(_toml_value(x) for x in v)
    if isinstance(v, dict):
        return "{ %s }" % ", ".join("%s = %s" % (k, _toml_value(x)) for k, x in v.items())
    raise ValueError("cannot write %r into a scenario" % (v,))


def apply_overrides(data, overrides):
    """Scenario tables (dict of dicts, as tomllib reads them) with overrides applied.

    A table name with a dict merges into that table (`link={"drop_rate": 0.01}`); a bare key
    goes to the one table that has it (`duration_s=60`), a config field name to [unit]."""
    from afrr.config import field_index
    from hil.scenario import SCHEMA

    tables = set(SCHEMA) | {"unit", "criteria"}
    out = {t: dict(v) for t, v in data.items()}
    for key, value in overrides.items():
        if key in tables and isinstance(value, dict):
            out.setdefault(key, {}).update(value)
            continue
        where = [t for t, keys in SCHEMA.items() if key in keys]
        if field_index(key) is not None:
            where.append("unit")
        if not where:
            raise ValueError("%s: no scenario table has this key" % key)
        if len(where) > 1:
            raise ValueError("%s is a key of [%s]: say which, e.g. %s={%r: ...}"
                             % (key, "] and [".join(where), where[-1], key))
        out.setdefault(where[0], {})[key] = value
    return out


class Rig:
    """Runs scenarios on a target; each run's report goes to out_dir/<scenario>[-N]."""

    def __init__(self, target="unix", out_dir=None):
        self.target = check_target(target)
        self.out_dir = pathlib.Path(out_dir or tempfile.mkdtemp(prefix="afrr-rig-"))
        self.results = []

    def run(self, scenario_path, /, realtime=False, **overrides):
        """Run a scenario file (tables changed by `overrides`, see apply_overrides); realtime:
        the firmware on its own clock, as `python -m hil run --realtime`."""
        import tomllib

        from hil import report
        from hil.runner import Run, RunError, summarize
        from hil.scenario import ScenarioError, load

        target_available(self.target)
        path = find_file(scenario_path)
        out = self.out_dir / path.stem
        n = 1
        while out.exists():
            n += 1
            out = self.out_dir / ("%s-%d" % (path.stem, n))
        out.mkdir(parents=True)
        try:
            if overrides:
                try:
                    data = tomllib.loads(path.read_text())
                except (OSError, tomllib.TOMLDecodeError) as e:
                    raise ScenarioError("%s: %s" % (path, e))
                data = apply_overrides(data, overrides)
                data.setdefault("scenario", {}).setdefault("name", path.stem)
                text = "".join("[%s]\n%s\n" % (t, "".join("%s = %s\n" % (k, _toml_value(v))
                                                          for k, v in keys.items()))
                               for t, keys in data.items())
                path = out / "scenario.toml"
                path.write_text(text)
            run = Run(load(path), target=self.target, realtime=realtime, progress=False)
            run.execute()
        except (ScenarioError, RunError) as e:
            raise RigError("rig.run(%s): %s" % (scenario_path, e)) from None
        summary, acc = summarize(run)
        report.write(run, summary, acc, out)
        result = RigResult(summary, run.samples, out)
        self.results.append(result)
        return result

