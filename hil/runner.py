# One HIL run: emulator -> measurements -> firmware (over Modbus RTU) -> set-point -> plant -> grid.
#
# Lock-step: per control cycle one FC23 transaction writes the measurements and the new simulated
# time and reads the outputs of exactly that step; the plant and the grid then advance the cycle
# in 1 s sub-steps (1 s data for the acceptance channel). A reply must carry the simulated time
# just written (hil/client.Unit.lockstep): a late answer to an earlier request is counted
# (late_replies) and never applied to the plant. A failed transaction is retried with
# the same simulated time (the firmware never steps twice for one time value); if every try
# fails, the plant keeps the last set-point it received (documented choice: the inverter holds
# its last command) and the firmware, frozen in simulated time, sees the gap as one long dt.
# Real time (--realtime): the firmware steps on its own clock; the rig paces the emulator to the
# wall clock and writes measurements every second.
import math
import os
import pathlib
import tempfile
import time

from afrr import regmap
from afrr.config import FIELDS
from afrr.controller import F_FAILSAFE
from hil import socmetrics
from hil.auth import METRICS as ATTACK_METRICS
from hil.auth import Attacker, Signer, keygen, load_key
from hil.client import ClientError, Unit, make_client
from hil.link import Faults, Link, LinkError, UnixFirmware
from hil.scenario import MODES, ScenarioError, start_utc_s, unit_config

DAY_MS = 86_400_000


class RunError(Exception):
    """A one-line reason why the run could not be carried out."""


class _FirmwareExited(Exception):
    """The firmware process on the Unix port ended during the run (crash, MemoryError)."""


def _in(windows, t):
    return any(a <= t < b for a, b in windows)


def _round(v, nd):
    return None if v is None else round(v, nd)


def _firmware_said(log):
    """' (firmware said: <its last non-blank line>)' for an error message, or ''."""
    last = [ln for ln in log.splitlines() if ln.strip() and not ln.startswith("--- ")]
    return " (firmware said: %s)" % last[-1] if last else ""


def _attack_due(attack, t_s, cycle_ms):
    """True in the control cycle where an [attack] round falls."""
    t = t_s - attack["start_s"]
    return t >= 0 and (t * 1000) % (attack["period_s"] * 1000) < cycle_ms


def _script_value(points, t):
    """The set-point in force at t s; points are in t_s order (scenario.load sorts them)."""
    v = 0
    for p in points:
        if p["t_s"] > t:
            break
        v = p["sp_kw"]
    return v


class Run:
    READY_S = 30.0  # how long a (re)started firmware may take to answer (a loaded machine)

    def __init__(self, sc, target="unix", baud=None, realtime=None, progress=True,
                 unit_id=1, heapsize=None, source=False, key_file=None):
        self.sc = sc
        self.key_file = key_file  # the unit's key (serial target), hil/auth.py
        self.attacker = None
        self.target = target
        self.baud = baud or sc.link["baud"]
        self._cli_baud = baud or 0
        # None: as the scenario declares ([scenario] realtime)
        self.realtime = sc.scenario["realtime"] if realtime is None else realtime
        self.progress = progress
        self.unit_id = unit_id
        self.heapsize = heapsize
        self.source = source  # unix target: firmware from source, not the mpy-cross build
        self.steps = []  # per control cycle (lock-step) or per second (real time)
        self.samples = []  # per second
        self.firmware_log = ""
        self.warnings = []
        self._state_dir = None
        self._key_dir = None
        self.restart_counters = {"crc_errors": 0, "frames_ok": 0, "exceptions": 0,
                                 "bytes_dropped": 0}

    # -- set-up --------------------------------------------------------------------------------
    def _build_world(self):
        from host.grid import Simulator, WorldError
        from host.plant import Battery, PlantError
        sc = self.sc
        derived = {f[0]: f[3] for f in FIELDS}
        self.market = None
        try:
            if sc.market["file"]:
                from host.market.run import UNIT, MarketRun
                self.market = MarketRun(str(sc.market_path), sc.market["scenario"],
                                        seed=sc.scenario["seed"], step_ms=sc.grid["step_ms"],
                                        on_unit=self._on_market_cycle)
                sim, self.unit_name = self.market.sim, UNIT
                mu = self.market.unit
                if not mu.area:
                    raise ValueError("the market file's [unit] has no area")
                self.area_name = mu.area
                derived["band_up_kw"] = int(round(mu.up_mw * 1000))
                derived["band_down_kw"] = int(round(mu.down_mw * 1000))
                derived["rating_kw"] = max(derived["band_up_kw"], derived["band_down_kw"], 1)
                derived["cap_kwh"] = 2 * derived["rating_kw"]
            else:
                sim = Simulator(sc.world or str(sc.world_path), scenario=sc.grid["scenario"],
                                seed=sc.scenario["seed"], step_ms=sc.grid["step_ms"])
                self.unit_name, self.area_name = "dut", sc.grid["area"]
                sim.add_unit("dut", area=self.area_name)
        except (WorldError, KeyError, ValueError) as e:
            table = "market" if sc.market["file"] else "grid"
            raise ScenarioError("%s: [%s]: %s" % (sc.path, table, str(e).strip('"')))
        area = sim.world.areas[sim.names.index(self.area_name)]
        sim.track_envelope(self.area_name)  # true extremes of each 1 s sample (report)
        n_ties = len(sim.unit_measurements(self.unit_name)["ties_kw"])
        if n_ties > 8:
            raise ScenarioError("%s: [grid] area: %d ties, the unit takes 8" % (sc.path, n_ties))
        derived["n_ties"] = n_ties
        derived["k_mw_hz"] = max(1, int(round(area.k_mw_per_hz)))
        # participation factor from the world file: the unit's band over the area's aFRR band
        band = max(sc.unit.get("band_up_kw", derived["band_up_kw"]),
                   sc.unit.get("band_down_kw", derived["band_down_kw"]))
        derived["share_ppm"] = socmetrics.share_ppm(band, max(area.afrr_up_mw, area.afrr_down_mw))
        cfg = unit_config(sc, derived)
        p = sc.plant
        try:
            bat = Battery(rating_kw=cfg["rating_kw"], cap_kwh=cfg["cap_kwh"], soc=p["soc"],
                          eta_ch=cfg["eta_ch_pm"] / 1000.0, eta_dis=cfg["eta_dis_pm"] / 1000.0,
                          delay_s=p["delay_s"], ramp_kw_s=p["ramp_kw_s"], aux_kw=p["aux_kw"])
        except PlantError as e:
            raise ScenarioError("%s: [plant]: %s" % (sc.path, e))
        self.sim, self.area, self.cfg, self.bat = sim, area, cfg, bat

    def _open(self):
        lk = self.sc.link
        if self.target == "cpython":  # the firmware's modules in this process, no link
            from hil.inproc import InProcessLink
            if self.realtime:
                raise RunError("real time needs a firmware on its own clock (--target unix or "
                               "serial:PATH); run --target cpython with --no-realtime")
            if lk["drop_rate"] or lk["flip_rate"] or lk["cuts"] or lk["restarts"]:
                self.warnings.append("link faults, cuts and restarts need --target unix "
                                     "(the cpython target has no link): not injected")
            if self.sc.attack["kinds"]:
                raise RunError("an [attack] needs --target unix (the cpython target has no "
                               "line to inject frames on)")
            signer = auth = None
            if lk["auth"]:  # the rig's own key, held in memory by both sides
                from afrr.auth import Auth
                signer = Signer(1, os.urandom(32))
                auth = Auth(signer.key, signer.key_id)
            self.link = InProcessLink(unit=self.unit_id, auth=auth)
            self.unit = Unit(self.link.client, self.unit_id)
            self.unit.signer = signer
            self._configure()
            return
        # unix target: the proxy emulates a UART line at --baud (or [link] line_baud) if given
        line = self._cli_baud or lk["line_baud"]
        faults = {d: Faults(lk["drop_rate"], lk["flip_rate"], lk["latency_ms"], lk["jitter_ms"],
                            line_baud=line if self.target == "unix" else 0)
                  for d in ("req", "resp")}
        signer, key_file = self._key()
        if self.target == "unix":
            state = None
            if lk["restarts"]:  # the restarted firmware boots from its persisted state
                self._state_dir = tempfile.TemporaryDirectory(prefix="afrr-hil-")
                state = pathlib.Path(self._state_dir.name) / "afrr_state.bin"
            fw = UnixFirmware(realtime=self.realtime, unit=self.unit_id, heapsize=self.heapsize,
                              state_file=state, source=self.source, key_file=key_file)
            self.link = Link(fw, faults=faults, seed=lk["seed"])
        elif self.target.startswith("serial:"):
            if any(f.active() for f in faults.values()) or lk["cuts"] or lk["restarts"]:
                self.warnings.append("link faults, cuts and restarts need --target unix "
                                     "(the fault proxy sits on the pty): not injected")
            self.link = Link(device=self.target[len("serial:"):])
        elif self.target == "qemu":  # the firmware on an emulated board (hil/qemu.py)
            from hil.qemu import qemu_link
            try:
                self.link = qemu_link(faults, lk, self.warnings, heapsize=self.heapsize,
                                      key_file=key_file)
            except LinkError as e:
                raise RunError(str(e))
        else:
            raise RunError("unknown target %r: use unix, cpython, qemu or serial:PATH"
                           % self.target)
        try:
            self.link.open()
        except (LinkError, OSError) as e:
            raise RunError(str(e))
        self._faults_on(False)  # set-up runs on a clean link; faults start with the run
        timeout = max(lk["timeout_ms"] / 1000.0, getattr(self.link, "min_timeout_s", 0))
        self.unit = Unit(make_client(self.link.client_path, self.baud, timeout), self.unit_id)
        self.unit.signer = signer
        fw = self.link.firmware
        try:
            self.unit.connect()
            self.unit.wait_ready(self.READY_S, alive=fw.alive if fw is not None else None)
        except ClientError as e:
            self.unit.close()
            self.firmware_log = self.link.close()
            raise RunError("%s: %s%s" % (self.target, e, _firmware_said(self.firmware_log)))
        self._configure()
        if self.sc.attack["kinds"]:
            if signer is None or self._proxy() is None:
                raise RunError("an [attack] needs --target unix or qemu and "
                               "[link] auth = true")
            self.attacker = Attacker(self.unit, self._proxy(), self.cfg)

    def _key(self):
        """(Signer or None, the unit's key file): with [link] auth the rig's own key, made for
        this run, on the targets it starts (the Unix port: --key-file; qemu: written onto the
        emulated board); a unit on a serial port has its deployed key (--key FILE)."""
        path = self.key_file
        if path is None and self.sc.link["auth"]:
            if self.target not in ("unix", "qemu"):
                raise RunError("[link] auth = true: give the unit's key with --key FILE")
            self._key_dir = tempfile.TemporaryDirectory(prefix="afrr-key-")
            path = pathlib.Path(self._key_dir.name) / "unit.key"
            keygen(path)
        if path is None:
            return None, None
        try:
            return Signer(*load_key(path)), path
        except ValueError as e:
            raise RunError(str(e))

    def _configure(self):
        try:
            self.unit.write_config(self.cfg)
        except ClientError as e:
            raise RunError(str(e))
        if not self.unit.set_mode(MODES[self.sc.scenario["mode"]]):
            raise RunError("firmware refused the mode")

    def _proxy(self):
        return self.link.proxy

    def _faults_on(self, on):
        if self._proxy() is not None:
            self._proxy().enabled = on
            if not on:
                self._proxy().cut = False

    # -- the run -------------------------------------------------------------------------------
    def execute(self):
        self._build_world()
        self._open()
        failed = None
        try:
            return self._loop_market() if self.market is not None else self._loop()
        except _FirmwareExited:
            pass
        except (ClientError, LinkError, OSError) as e:  # one line, never a traceback
            failed = "%s: %s after %d steps" % (self.target, e, len(self.steps))
        finally:
            self._faults_on(False)
            self.final = self.unit.read_outputs() or {}
            self.unit.close()
            self.firmware_log = self.link.close()
            if self._state_dir is not None:
                self._state_dir.cleanup()
            if self._key_dir is not None:
                self._key_dir.cleanup()
        if failed:
            raise RunError(failed + _firmware_said(self.firmware_log))
        raise RunError("%s: firmware exited after %d steps%s" % (
            self.target, len(self.steps), _firmware_said(self.firmware_log)))

    def _measure(self, t_ms, cycle_ms):
        m = self.sim.unit_measurements(self.unit_name)
        ties = list(m["ties_kw"]) + [0] * (8 - len(m["ties_kw"]))
        clip = regmap.S32_MAX
        v = {"f_mhz": max(0, min(65535, m["f_mhz"])), "mode": MODES[self.sc.scenario["mode"]],
             "sched_kw": max(-clip, min(clip, m["sched_kw"])),
             "soc_x100": max(0, min(10000, int(round(self.bat.soc * 10000)))), "age_ms": 0,
             "p_meas_kw": int(round(self.bat.p_kw)),
             "tod_ms": (self.sc.grid["start_tod_s"] * 1000 + t_ms) % DAY_MS,
             "sim_time_ms": t_ms + cycle_ms}
        for i, x in enumerate(ties):
            v["tie_kw_%d" % i] = max(-clip, min(clip, x))
        return v, m

    def _tso_setpoint(self, t_s):
        rm = self.sc.remote
        if rm["setpoints"]:
            return int(_script_value(rm["setpoints"], t_s))
        st = self.sim.area_state(self.area_name)
        band = self.area.afrr_up_mw * 1000.0 if st["afrr_target_kw"] >= 0 else \
            self.area.afrr_down_mw * 1000.0
        unit_band = self.cfg["band_up_kw"] if st["afrr_target_kw"] >= 0 else \
            self.cfg["band_down_kw"]
        return int(round(st["afrr_target_kw"] * unit_band / band)) if band > 0 else 0

    def _transaction(self, vals):
        tries = 1 + self.sc.link["retries"]
        for k in range(tries):
            out = self.unit.lockstep(vals, timed=not self.realtime)
            if out is not None:
                return out, k
        fw = self.link.firmware
        if fw is not None and not fw.alive():  # no point waiting out the rest of the run
            raise _FirmwareExited()
        return None, tries - 1

    def _record_step(self, t_s, out, retries, sp_sent, m):
        """One row of self.steps, with the cumulative link errors at this step: firmware
        (across restarts) and injected."""
        px = self._proxy()
        self.steps.append({
            "t_s": t_s, "ok": out is not None, "retries": retries, "sp_sent": sp_sent,
            "out": out, "area_ace_kw": m["ace_kw"],
            "fw_crc_total": None if out is None
            else out["crc_errors"] + self.restart_counters["crc_errors"],
            "inj_req_corrupted": px.stats["req"]["corrupted"] if px is not None else 0})

    def _annotate(self, samples, out):
        """Complete the 1 s samples of the interval just simulated: the minimum, maximum and
        mean of the area's frequency and ACE over every native step of that interval (a 1 s
        sample alone misses the nadir after a trip), and the firmware's answer of the step in
        force (`fw`: the outputs dict, None when that transaction failed)."""
        env = self.sim.take_envelope()
        for s in samples:
            if env is not None:
                s.update(env)
            s["fw"] = out

    def _progress_bar(self, n):
        """A tqdm bar over n steps, or None without --progress."""
        if not self.progress:
            return None
        from tqdm import tqdm
        sc = self.sc
        return tqdm(total=n, unit="step", desc=sc.scenario["name"] or sc.path.stem, leave=False,
                    dynamic_ncols=True)

    def _restart(self):
        """Kill the firmware mid-run (as a crash), start it again, configure it."""
        self._faults_on(False)
        before = self.unit.read_outputs()
        if before:
            for k in self.restart_counters:
                self.restart_counters[k] += before[k]
        self.link.restart_firmware()
        self.unit.c.close()
        self.unit.connect()
        fw = self.link.firmware
        try:
            self.unit.wait_ready(self.READY_S, alive=fw.alive)
        except ClientError as e:
            raise ClientError("restarted firmware: %s" % e)
        self._configure()
        self._faults_on(True)

    def _loop(self):
        sc = self.sc
        cycle_ms = self.cfg["cycle_ms"] if not self.realtime else 1000
        n = sc.scenario["duration_s"] * 1000 // cycle_ms
        sub = cycle_ms // 1000
        restarts = sorted(float(t) for t in sc.link["restarts"])
        mode = sc.scenario["mode"]
        bar = self._progress_bar(n)
        p_set = 0
        base = 0  # kW: the unit's baseline in force (p_set = base + aFRR set-point)
        sp_req = 0  # kW: aFRR asked of the unit (TSO set-point in remote mode, else p_set - base)
        last = None
        self._faults_on(True)
        t_wall0 = time.monotonic()
        for k in range(n):
            t_ms = k * cycle_ms
            t_s = t_ms / 1000.0
            if restarts and t_s >= restarts[0] and self.target == "unix":
                restarts.pop(0)
                self._restart()
            if self._proxy() is not None:
                self._proxy().cut = _in(sc.link["cuts"], t_s)
            sp_sent = None
            if mode == "remote" and k % max(1, sc.remote["period_s"] * 1000 // cycle_ms) == 0 \
                    and not _in(sc.remote["loss"], t_s):
                sp = self._tso_setpoint(t_s)
                sp_req = sp
                if self.unit.send_setpoint(sp):
                    sp_sent = sp
            if self.attacker is not None and _attack_due(sc.attack, t_s, cycle_ms):
                if not self.attacker.strike(sc.attack["kinds"]):
                    self.warnings.append("attack round at %.0f s: the link failed" % t_s)
            vals, m = self._measure(t_ms, cycle_ms)
            if self.realtime:
                wait = t_wall0 + t_s - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            out, retries = self._transaction(vals)
            if out is not None:
                p_set = out["p_set_kw"]
                base = out["base_kw"]
                last = out
            self._record_step(t_s, out, retries, sp_sent, m)
            for _j in range(sub):
                d = self.bat.step(p_set, 1.0)
                self.sim.set_unit_power(self.unit_name, d)
                self.sim.advance(1000)
                st = self.sim.area_state(self.area_name)
                self.samples.append({
                    "t_s": self.sim.t_ms / 1000.0, "f_mhz": st["f_mhz"],
                    "area_ace_kw": st["ace_kw"], "p_set_kw": p_set, "p_kw": d, "base_kw": base,
                    "sp_req_kw": sp_req if mode == "remote" else p_set - base,
                    "soc": self.bat.soc, "failsafe": bool(last and last["flags"] & F_FAILSAFE),
                    "link_ok": out is not None})
                self._annotate(self.samples[-1:], out)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        self.wall_s = time.monotonic() - t_wall0
        return self.steps


    # -- market-driven run: the emulator's market clears every 4 s and calls back -------------
    def _on_market_cycle(self, sp_kw, expected_kw):
        """MarketRun callback, once per 4 s cycle: the unit's activated volume (kW, + = up).

        The TSO set-point goes to the firmware (remote mode), one lock-step transaction runs
        the control step, the battery follows the firmware's set-point for the cycle; the
        cycle-mean delivered power goes back to the market (grid injection and settlement).
        """
        k = self._k
        self._k += 1
        cycle_ms = 4000
        t_ms = k * cycle_ms
        t_s = t_ms / 1000.0
        if self._proxy() is not None:
            self._proxy().cut = _in(self.sc.link["cuts"], t_s)
        sp = int(round(sp_kw))
        self._sp_req = sp
        sp_sent = None
        if not _in(self.sc.remote["loss"], t_s) and self.unit.send_setpoint(sp):
            sp_sent = sp
        vals, m = self._measure(t_ms, cycle_ms)
        out, retries = self._transaction(vals)
        if out is not None:
            self._p_set = out["p_set_kw"]
            self._last = out
        self._record_step(t_s, out, retries, sp_sent, m)
        self._annotate(self.samples[-(cycle_ms // 1000):], self._fw_prev)  # the cycle that ended
        self._fw_prev = out
        total = 0.0
        for j in range(cycle_ms // 1000):
            d = self.bat.step(self._p_set, 1.0)
            total += d
            self.samples.append({
                "t_s": t_s + j + 1.0, "f_mhz": m["f_mhz"], "area_ace_kw": m["ace_kw"],
                "p_set_kw": self._p_set, "p_kw": d, "sp_req_kw": sp, "soc": self.bat.soc,
                "base_kw": self._last["base_kw"] if self._last else 0,
                "failsafe": bool(self._last and self._last["flags"] & F_FAILSAFE),
                "link_ok": out is not None})
        if self._bar is not None:
            self._bar.update(1)
        return total / (cycle_ms // 1000)

    def _loop_market(self):
        sc = self.sc
        n = sc.scenario["duration_s"] // 4
        self._k, self._p_set, self._sp_req, self._last = 0, 0, 0, None
        self._fw_prev = None
        self._bar = self._progress_bar(n)
        self._faults_on(True)
        t_wall0 = time.monotonic()
        self.market_log = self.market.run(hours=n * 4 / 3600.0)
        self._annotate(self.samples[-4:], self._fw_prev)
        if self._bar is not None:
            self._bar.close()
        self.wall_s = time.monotonic() - t_wall0
        return self.steps


def failsafe_engagement(steps, windows, realtime, cycle_ms):
    """Per (start, end, kind) window: (seconds to the fail-safe engaging or None, and the time
    that delay is counted from).

    Lock-step: from the window's start to the first answer with the fail-safe flag (the
    firmware, frozen in simulated time, engages on the rig's next step).
    Real time: from the last good write before the window (the last measurement transaction
    that went through for a cut; the last TSO set-point that did for a set-point loss), counted
    on the firmware's own clock, not the rig's: the first answer after the window carries the
    firmware's step counter and how many steps it has been on the fail-safe path, so the
    first fail-safe step is number `steps - fault_cycles + 1`, and it came k = that minus the
    step counter answered with the last good write own cycles after the write. The write fell
    somewhere inside the cycle before the next step, so the true delay lies in
    ((k - 1) * cycle, k * cycle]: k * cycle is reported, correct within one cycle, however
    late the rig's own transactions ran.
    """
    cyc_s = cycle_ms / 1000.0
    engage, since = [], []
    for a, _b, kind in windows:
        later = [s for s in steps if s["t_s"] >= a and s["out"] is not None
                 and s["out"]["flags"] & F_FAILSAFE]
        good = [s for s in steps if s["t_s"] < a and s["out"] is not None
                and (kind == "cut" or s["sp_sent"] is not None)]
        if not later:
            engage.append(None)
            since.append(a)
        elif not realtime:
            engage.append(later[0]["t_s"] - a)
            since.append(a)
        elif good and later[0]["out"]["steps"] >= good[-1]["out"]["steps"]:
            o, w = later[0]["out"], good[-1]
            k = o["steps"] - o["fault_cycles"] + 1 - w["out"]["steps"]
            engage.append(round(max(0, k) * cyc_s, 3))
            since.append(w["t_s"])
        else:  # no good write before, or a restart reset the step counter: the rig's clock
            o = later[0]["out"]
            engage.append(round(max(0.0, later[0]["t_s"] - o["fault_cycles"] * cyc_s - a), 3))
            since.append(a)
    return engage, since


def failsafe_spans(steps, windows, engage, since, clear, t_end, cycle_s):
    """[start, end] s on the fail-safe path, merged: each window's engagement to its clearing
    (during a cut the rig sees nothing, so that part comes from the measured engagement), and
    every run of answers with the fail-safe flag outside the windows."""
    spans = []
    for (_a, b, _k), e, t0, c in zip(windows, engage, since, clear):
        if e is not None:
            spans.append([t0 + e, b + c if c is not None else float(t_end)])
    run_start = None
    for s in steps:
        on = s["out"] is not None and bool(s["out"]["flags"] & F_FAILSAFE)
        if on and run_start is None:
            run_start = s["t_s"]
        elif not on and s["out"] is not None and run_start is not None:
            spans.append([run_start, s["t_s"]])
            run_start = None
    if run_start is not None:
        spans.append([run_start, max(float(t_end), steps[-1]["t_s"] + cycle_s)])
    merged = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [[round(lo, 3), round(hi, 3)] for lo, hi in merged]


def summarize(run):
    """The numbers of a run (summary.json) and the verdict of every criterion."""
    sc, cfg = run.sc, run.cfg
    steps, samples = run.steps, run.samples
    up_lim = min(cfg["band_up_kw"], cfg["rating_kw"])
    down_lim = min(cfg["band_down_kw"], cfg["rating_kw"])
    outs = [s["out"] for s in steps if s["out"] is not None]
    # aFRR part (set-point minus baseline) inside the band, the whole set-point inside the rating
    viol = sum(1 for o in outs if not (-down_lim <= o["p_set_kw"] - o["base_kw"] <= up_lim)
               or abs(o["p_set_kw"]) > cfg["rating_kw"])
    soc_lo, soc_hi = cfg["soc_min_x100"] / 10000.0, cfg["soc_max_x100"] / 10000.0
    socs = [s["soc"] for s in samples]
    dt = 1.0 / 3600.0
    e_up = sum(max(0.0, s["p_kw"]) for s in samples) * dt
    e_down = sum(max(0.0, -s["p_kw"]) for s in samples) * dt
    fin = getattr(run, "final", {}) or {}
    px = run.link.proxy
    inj = px.stats if px is not None else {"req": {}, "resp": {}}
    crc_fw = fin.get("crc_errors", 0) + run.restart_counters["crc_errors"]
    req_corrupt = inj["req"].get("corrupted", 0)
    windows = [(a, b, "cut") for a, b in sc.link["cuts"]] + \
        [(a, b, "loss") for a, b in sc.remote["loss"]]
    engage, since = failsafe_engagement(steps, windows, run.realtime, cfg["cycle_ms"])
    # control resumes: first step without the fail-safe flag after each window ends
    clear = []
    for _a, b, _kind in windows:
        later = [s["t_s"] for s in steps if s["t_s"] >= b and s["out"] is not None
                 and not s["out"]["flags"] & F_FAILSAFE]
        clear.append(later[0] - b if later else None)
    # what the report shades: the cut / loss windows, and the time on the fail-safe path
    shade_fs = failsafe_spans(steps, windows, engage, since, clear, len(samples),
                              cfg["cycle_ms"] / 1000.0)
    # the firmware's ISP energy counters against the set-point it commanded (integrated here):
    # every completed ISP in which every transaction went through and nothing restarted
    # ISPs are numbered from the run's day 0 (the firmware's isp register is the ISP of the day)
    start = sc.grid["start_tod_s"]
    rig_wh = {}
    for s in samples:
        q = int((start + s["t_s"] - 1.0) // 900.0)
        e = rig_wh.setdefault(q, [0.0, 0.0])
        a = s["p_set_kw"] - s.get("base_kw", 0)  # the firmware counts aFRR energy only
        e[0 if a > 0 else 1] += abs(a) / 3.6
    bad_isp = set()
    for s in steps:
        if not s["ok"]:
            bad_isp.add(int((start + s["t_s"]) // 900.0))
    for t in sc.link["restarts"]:
        bad_isp.add(int((start + float(t)) // 900.0))
    isp_err, prev, prev_q = [], None, None
    for s in steps:
        o = s["out"]
        if o is None:
            continue
        if prev is not None and o["isp"] != prev["isp"] and prev["isp"] >= 0 \
                and prev_q in rig_wh and prev_q not in bad_isp:
            up, down = rig_wh[prev_q]
            isp_err.append(max(abs(o["prev_up_wh"] - up), abs(o["prev_down_wh"] - down)))
        prev, prev_q = o, int((start + s["t_s"]) // 900.0)
    # German acceptance model on the 1 s TSO request vs delivered power; the run's UTC anchor
    # is 2026-01-01 plus the scenario's start time of day. aFRR delivered = delivered minus the
    # baseline in force (a battery's declared schedule; 0 otherwise)
    from host.metrics import evaluate, prequalification_steps
    acc = pq = None
    if len(samples) > 1:
        sp_1s = [s["sp_req_kw"] for s in samples]
        p_1s = [s["p_kw"] - s.get("base_kw", 0) for s in samples]
        acc = evaluate(sp_1s, p_1s, start_utc_s(sc))
        pq = prequalification_steps(sp_1s, p_1s, fat_s=cfg.get("fat_s", 300))
    summary = {
        "scenario": sc.scenario["name"] or sc.path.stem,
        "target": run.target,
        "mode": "real time" if run.realtime else "lock-step",
        "control_mode": sc.scenario["mode"],
        "sim_seconds": len(samples),
        "steps": len(steps),
        "steps_ok": len(outs),
        "steps_failed": len(steps) - len(outs),
        "retries": sum(s["retries"] for s in steps),
        "late_replies": run.unit.late_replies,
        "wall_s": round(run.wall_s, 3),
        "steps_per_s": round(len(steps) / run.wall_s, 1) if run.wall_s > 0 else None,
        "setpoint_violations": viol,
        "p_set_max_kw": max((o["p_set_kw"] for o in outs), default=0),
        "p_set_min_kw": min((o["p_set_kw"] for o in outs), default=0),
        "limit_up_kw": up_lim,
        "limit_down_kw": down_lim,
        "soc_min_pct": round(100 * min(socs), 3) if socs else None,
        "soc_max_pct": round(100 * max(socs), 3) if socs else None,
        "soc_violations": sum(1 for s in socs if s < soc_lo - 1e-3 or s > soc_hi + 1e-3),
        "energy_up_kwh": round(e_up, 3),
        "energy_down_kwh": round(e_down, 3),
        # extremes over every native step of the emulator (the 1 s samples' envelope)
        "f_min_mhz": _round(min((s.get("f_min_mhz", s["f_mhz"]) for s in samples),
                                default=None), 3),
        "f_max_mhz": _round(max((s.get("f_max_mhz", s["f_mhz"]) for s in samples),
                                default=None), 3),
        "area_ace_max_abs_kw": max((abs(s["area_ace_kw"]) for s in samples), default=0),
        "failsafe_steps": sum(1 for o in outs if o["flags"] & F_FAILSAFE),
        "failsafe_engage_s": engage,
        "failsafe_engage_from_s": since,
        "failsafe_engage_max_s": max((e for e in engage if e is not None), default=None),
        "failsafe_never_engaged": sum(1 for e in engage if e is None),
        "failsafe_clear_s": clear,
        "failsafe_clear_max_s": max((c for c in clear if c is not None), default=None),
        "failsafe_never_cleared": sum(1 for c in clear if c is None),
        "cut_windows_s": [[a, b] for a, b in sc.link["cuts"]],
        "loss_windows_s": [[a, b] for a, b in sc.remote["loss"]],
        "failsafe_windows_s": shade_fs,
        "fw_steps": fin.get("steps"),
        "fw_frames_ok": fin.get("frames_ok"),
        "fw_crc_errors": crc_fw,
        "fw_exceptions": fin.get("exceptions", 0) + run.restart_counters["exceptions"],
        "fw_bytes_dropped": fin.get("bytes_dropped", 0) + run.restart_counters["bytes_dropped"],
        "injected_req_frames_corrupted": req_corrupt,
        "injected_req_frames_lost": inj["req"].get("lost", 0),
        "injected_resp_frames_corrupted": inj["resp"].get("corrupted", 0),
        "injected_resp_frames_lost": inj["resp"].get("lost", 0),
        "injected_bits_flipped": inj["req"].get("bits_flipped", 0)
        + inj["resp"].get("bits_flipped", 0),
        "injected_bytes_dropped": inj["req"].get("bytes_dropped", 0)
        + inj["resp"].get("bytes_dropped", 0),
        "crc_counter_mismatch": abs(crc_fw - req_corrupt) if px is not None else 0,
        "bytes_counter_mismatch": abs(
            fin.get("bytes_dropped", 0) + run.restart_counters["bytes_dropped"]
            - inj["req"].get("corrupted_bytes_out", 0)) if px is not None else 0,
        "restarts": len(sc.link["restarts"]),
        "isp_energy_checked": len(isp_err),
        "isp_energy_mismatch_wh": round(max(isp_err), 3) if isp_err else 0.0,
        "acceptance_passed": int(acc.passed) if acc else None,
        "acceptance_charged_s": acc.charged_seconds if acc else None,
        "acceptance_flagged_s": acc.flagged_seconds if acc else None,
        "acceptance_isps": len(acc.isps) if acc else None,
        "acceptance_isps_failed": acc.isps_failed if acc else None,
        "acceptance_under_kwh_pos": round(acc.under_kwh_pos, 3) if acc else None,
        "acceptance_under_kwh_neg": round(acc.under_kwh_neg, 3) if acc else None,
        "prequal_steps": pq["steps"] if pq else None,
        "prequal_late_reactions": len(pq["late_reactions_s"]) if pq else None,
        "prequal_not_reached": len(pq["not_reached_s"]) if pq else None,
        "config": cfg,
    }
    summary.update(socmetrics.summary(run, cfg, acc))
    summary.update(run.attacker.metrics() if run.attacker is not None
                   else dict.fromkeys(ATTACK_METRICS))
    if getattr(run, "market", None) is not None:
        from host.market.publication import settlement
        rows = settlement(run.market_log)
        summary["settlement"] = rows
        summary["revenue_eur"] = round(sum(r["revenue_eur"] for r in rows), 2)
        summary["market_energy_up_kwh"] = round(sum(r["energy_up_kwh"] for r in rows), 3)
        summary["market_energy_down_kwh"] = round(sum(r["energy_down_kwh"] for r in rows), 3)
    verdicts = []
    for name, crit in sc.criteria.items():
        v = summary.get(name)
        ok = isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))
        if ok and "min" in crit:
            ok = v >= crit["min"]
        if ok and "max" in crit:
            ok = v <= crit["max"]
        verdicts.append({"metric": name, "value": v, "min": crit.get("min"),
                         "max": crit.get("max"), "ok": bool(ok)})
    summary["criteria"] = verdicts
    summary["warnings"] = run.warnings
    summary["passed"] = all(c["ok"] for c in verdicts)
    return summary, acc
