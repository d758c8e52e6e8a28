# Simulator: steps the multi-area model, runs the TSO LFC every cycle, hosts external units.
#
# One step (dt = step_ms): x <- Ad x + Bcd c + Bud u (exact for inputs held over the step), then
# the FCR correction c is recomputed from the new df. Between LFC cycles u is known in advance
# (disturbances, provider ramps, unit powers), so W = U Bud^T is one matrix product per cycle and
# the per-step work is a handful of preallocated numpy calls.
# Trace replay: df is imposed on every area; each non-slack area's net export then follows from
# its balance, pg + u - D df - M d(df)/dt, and the AC tie flows from the network incidence
# (exact for a radial network, least-squares for a meshed one). The slack area (world.slack)
# absorbs the imbalance the trace implies; its own LFC is off.
import pathlib

import numpy as np

from .lfc import TsoLfc
from .model import Model
from .scenario import Disturbances, ou_frequency
from .trace import load_trace
from .world import Scenario, WorldError, load_world

# numpy's clip ufunc: one call per clip in the per-step loop (np.clip goes through a Python
# wrapper; min then max are two calls). The same values as maximum(minimum(x, hi), lo).
try:
    _clip = np._core.umath.clip
except AttributeError:      # another numpy layout: the two-call form
    def _clip(x, lo, hi, out):
        np.minimum(x, hi, out=out)
        return np.maximum(out, lo, out=out)


class Simulator:
    def __init__(self, world, scenario="quiet", seed=1, step_ms=100, lfc=None, fcr=None,
                 netting=True):
        if isinstance(world, (str, pathlib.Path)):
            world = load_world(world)
        if isinstance(scenario, Scenario):
            sc = scenario
        elif scenario in world.scenarios:
            sc = world.scenarios[scenario]
        else:
            raise WorldError(world.path, None, "scenario",
                             "unknown %r (known: %s)" % (scenario, ", ".join(world.scenarios)))
        step_ms = int(step_ms)
        cyc_ms = int(round(world.lfc_cycle_s * 1000))
        if step_ms <= 0 or cyc_ms % step_ms:
            raise ValueError("step_ms %d must divide the LFC cycle %d ms" % (step_ms, cyc_ms))
        self.world, self.scenario, self.seed = world, sc, seed
        self.step_ms = step_ms
        self.dt = step_ms / 1000.0
        self.cyc = cyc_ms // step_ms
        self.names = [a.name for a in world.areas]
        self.tie_names = [t.name for t in world.ties]
        self.model = m = Model(world, fcr=sc.fcr if fcr is None else fcr)
        ad, bud, bcd = m.discretise(self.dt)
        n, na = m.n, m.na
        self._n, self._na = n, na
        self._mat = np.ascontiguousarray(np.hstack([ad, bcd]))
        self._bud_t = np.ascontiguousarray(bud.T)
        self._buf = np.zeros((self.cyc + 1, n + na))
        self._rows = [self._buf[j] for j in range(self.cyc + 1)]
        self._xs = [self._buf[j, :n] for j in range(self.cyc + 1)]
        self._dfs = [self._buf[j, :na] for j in range(self.cyc + 1)]
        self._cs = [self._buf[j, n:] for j in range(self.cyc + 1)]
        self._t1 = np.zeros(na)
        self._t2 = np.zeros(na)
        self._g = m.g.copy()
        self._db = m.db_hz.copy()
        self._lim = m.fcr_max.copy()
        self._limited = bool(np.any(np.isfinite(self._lim)))
        self.lfc = TsoLfc(world, enabled=sc.lfc if lfc is None else lfc, netting=netting)
        self._afrr = np.zeros(na)              # MW delivered by the aFRR providers
        self._dist = Disturbances(world, sc, seed, self.dt)
        self._units = {}                        # name -> [area index, MW]
        self._unit_sum = None                   # their MW per area; None: to be summed again
        self._views = {}                        # area index -> area_state of this instant
        self._k = 0
        self._hvdc_sched = {h.name: (world.area_index(h.area), h.import_mw) for h in world.hvdc}
        self._tripped = set()
        self._trace = None
        if sc.trace or sc.ou_std_mhz > 0:
            if sc.trace:
                tt, ff = load_trace(sc.trace, world.f0_hz, sc.trace_until)
                ff = ff - world.f0_hz
            else:
                tt, ff = ou_frequency(seed, sc.hours, sc.ou_std_mhz, sc.ou_tau_s,
                                      sc.ou_day_mean_mhz)
            self._trace = (tt, ff)
            self.trace_duration_s = float(tt[-1])
            slack = world.area_index(world.slack)
            keep = [i for i in range(na) if i != slack]
            self._keep = keep
            self._tie_solve = np.linalg.pinv(m.inc[keep, :])
            self._buf[0, :na] = np.interp(0.0, tt, ff)
            # the slack area carries the trace's imbalance; its aFRR could not move an
            # imposed frequency, so its LFC is off during replay
            self.lfc.active[slack] = False
        self._rec = None
        self._env = None

    # ---- external units -------------------------------------------------------------
    # Many units may be read and set every cycle: setting one is O(1) (the per-area sum is
    # redone once, when next needed), and an area's state is worked out once per simulated
    # instant and shared by every unit in it (see area_state).
    def add_unit(self, name, area):
        if area not in self.names:
            raise KeyError("unknown area %r (known: %s)" % (area, ", ".join(self.names)))
        self._units[name] = [self.names.index(area), 0.0]

    def set_unit_power(self, name, p_kw):
        """Injection of unit `name` in kW, + = upward (discharge / load reduction)."""
        self._units[name][1] = float(p_kw) / 1000.0
        self._unit_sum = None

    @property
    def _unit_u(self):
        """MW injected by the external units, per area (summed in the order they were added)."""
        u = self._unit_sum
        if u is None:
            u = np.zeros(self._na)
            for i, p in self._units.values():
                u[i] += p
            self._unit_sum = u
        return u

    # ---- time -------------------------------------------------------------------------
    @property
    def t_ms(self):
        return self._k * self.step_ms

    def advance(self, ms):
        """Run the physics forward by ms (a multiple of step_ms)."""
        ms = int(ms)
        if ms < 0 or ms % self.step_ms:
            raise ValueError("advance(%d): must be a non-negative multiple of step_ms %d"
                             % (ms, self.step_ms))
        left = ms // self.step_ms
        self._views.clear()
        while left:
            if self._k % self.cyc == 0:
                self._lfc_cycle()
            n = min(left, self.cyc - self._k % self.cyc)
            if self._trace is None:
                self._segment(n)
            else:
                self._segment_replay(n)
            left -= n

    def _state(self):
        return self._xs[0]

    def _ties_export(self, x):
        return self.model.inc @ self.model.flows(x)

    def _lfc_cycle(self):
        x = self._state()
        ace = self.lfc.ace(x[:self._na], self._ties_export(x))
        self.lfc.cycle(ace, self.cyc * self.dt)

    def _inputs(self, n):
        u = self._dist.injection(self._k, n)
        path = self.lfc.provider_path(self._afrr, n, self.dt)
        self._afrr = path[-1].copy()
        self._seg_path = path
        u += path
        u += self._unit_u
        return u

    def _segment(self, n):
        u = self._inputs(n)
        w = u @ self._bud_t
        mat, rows, xs, dfs, cs = self._mat, self._rows, self._xs, self._dfs, self._cs
        dot, add, sub, mul, clip = np.dot, np.add, np.subtract, np.multiply, _clip
        g, db, ndb, lim, nlim = self._g, self._db, -self._db, self._lim, -self._lim
        t1, t2 = self._t1, self._t2
        nonlin, limited = self.model.nonlinear, self._limited
        for j in range(n):
            xj = xs[j + 1]
            dot(mat, rows[j], out=xj)
            add(xj, w[j], out=xj)
            if nonlin:
                df = dfs[j + 1]
                clip(df, ndb, db, out=t1)
                sub(df, t1, out=t1)
                mul(t1, g, out=t1)
                if limited:
                    clip(t1, nlim, lim, out=t1)
                mul(df, g, out=t2)
                sub(t2, t1, out=cs[j + 1])
        self._finish(n, u)

    def _segment_replay(self, n):
        u = self._inputs(n)
        w = u @ self._bud_t
        m = self.model
        na = self._na
        tt, dft = self._trace
        t = (self._k + 1 + np.arange(n)) * self.dt
        imposed = np.interp(t, tt, dft)
        keep = self._keep
        for j in range(n):
            row, nxt = self._rows[j], self._rows[j + 1]
            x = self._xs[j + 1]
            np.dot(self._mat, row, out=x)
            x += w[j]
            df_old = row[0]
            x[:na] = imposed[j]
            pg = x[m.i_pg]
            ne = pg + u[j] - m.d * imposed[j] - m.m * (imposed[j] - df_old) / self.dt
            x[m.i_pt] = self._tie_solve @ ne[keep]   # all df equal: no damping term
            if m.nonlinear:
                dz = imposed[j] - np.clip(imposed[j], -m.db_hz, m.db_hz)
                nxt[self._n:] = m.g * imposed[j] - np.clip(m.g * dz, -m.fcr_max, m.fcr_max)
        self._finish(n, u)

    def _finish(self, n, u):
        if self._rec is not None:
            self._record(n, u)
        if self._env is not None:
            self._envelope(n)
        self._buf[0] = self._buf[n]
        self._k += n

    # ---- envelope of one area's fast signals (HIL report) --------------------------------
    def track_envelope(self, area):
        """From now on keep the minimum, maximum and mean of `area`'s frequency (mHz) and ACE
        (kW) over every native step; take_envelope() hands them over for the steps since its
        last call. A report sampled once a second then still shows the true extremes."""
        self._env = {"i": self.names.index(area)}
        self._env_reset()

    def _env_reset(self):
        e = self._env
        e.update(f_min=np.inf, f_max=-np.inf, f_sum=0.0, a_min=np.inf, a_max=-np.inf,
                 a_sum=0.0, n=0)

    def _envelope(self, n):
        e = self._env
        i = e["i"]
        m = self.model
        x = self._buf[1:n + 1, :self._n]
        df = x[:, i]
        export = m.flows(x) @ m.inc[i]  # MW, export of area i at each step
        ace = (export - self.lfc.sched[i] - self.lfc.igcc[i] + self.lfc.k[i] * df) * 1000.0
        f = (self.world.f0_hz + df) * 1000.0
        e["f_min"] = min(e["f_min"], float(f.min()))
        e["f_max"] = max(e["f_max"], float(f.max()))
        e["f_sum"] += float(f.sum())
        e["a_min"] = min(e["a_min"], float(ace.min()))
        e["a_max"] = max(e["a_max"], float(ace.max()))
        e["a_sum"] += float(ace.sum())
        e["n"] += n

    def take_envelope(self):
        """{f_min_mhz, f_max_mhz, f_mean_mhz, ace_min_kw, ace_max_kw, ace_mean_kw} over the
        native steps since the last call (None before any step), then start afresh."""
        e = self._env
        if e is None or e["n"] == 0:
            return None
        out = {"f_min_mhz": e["f_min"], "f_max_mhz": e["f_max"], "f_mean_mhz": e["f_sum"] / e["n"],
               "ace_min_kw": e["a_min"], "ace_max_kw": e["a_max"],
               "ace_mean_kw": e["a_sum"] / e["n"]}
        self._env_reset()
        return out

    # ---- recording (CLI, benchmark) -----------------------------------------------------
    def start_recording(self, every_ms=1000):
        every = int(every_ms) // self.step_ms
        if every <= 0 or every * self.step_ms != int(every_ms):
            raise ValueError("every_ms must be a multiple of step_ms")
        self._rec = {"every": every, "rows": [], "df": []}

    def _record(self, n, u):
        rec = self._rec
        rec["df"].append(self._buf[1:n + 1, :self._na].astype(np.float32))
        ks = self._k + 1 + np.arange(n)
        sel = np.nonzero(ks % rec["every"] == 0)[0]
        if len(sel) == 0:
            return
        m = self.model
        x = self._buf[sel + 1, :self._n]
        df = x[:, m.i_df]
        pt = m.flows(x)
        ex = pt @ m.inc.T
        ace = ex - self.lfc.sched - self.lfc.igcc + self.lfc.k * df
        na = self._na
        block = np.empty((len(sel), 1 + 2 * na + len(self.tie_names) + 6 * na))
        c = 0
        block[:, c] = ks[sel] * self.dt
        c += 1
        for arr in (df, ace, pt, x[:, m.i_pg],
                    np.broadcast_to(self.lfc.demand, (len(sel), na)),
                    np.broadcast_to(self.lfc.target, (len(sel), na)),
                    np.broadcast_to(self.lfc.igcc, (len(sel), na)),
                    np.broadcast_to(self._unit_u, (len(sel), na)),
                    ):
            block[:, c:c + arr.shape[1]] = arr
            c += arr.shape[1]
        block[:, c:c + na] = self._seg_path[sel]
        rec["rows"].append(block)

    def columns(self):
        cols = ["t_s"]
        cols += ["df_mhz_%s" % a for a in self.names]
        cols += ["ace_mw_%s" % a for a in self.names]
        cols += ["tie_mw_%s" % t for t in self.tie_names]
        cols += ["fcr_mw_%s" % a for a in self.names]
        cols += ["afrr_demand_mw_%s" % a for a in self.names]
        cols += ["afrr_target_mw_%s" % a for a in self.names]
        cols += ["igcc_mw_%s" % a for a in self.names]
        cols += ["units_mw_%s" % a for a in self.names]
        cols += ["afrr_mw_%s" % a for a in self.names]
        return cols

    def recording(self):
        """dict: 'columns', 'data' (rows x columns, df in mHz), 'df_hz' (every step, areas)."""
        rec = self._rec
        na = self._na
        data = np.vstack(rec["rows"]) if rec["rows"] else np.zeros((0, len(self.columns())))
        data = data.copy()
        data[:, 1:1 + na] *= 1000.0
        df = np.vstack(rec["df"]) if rec["df"] else np.zeros((0, na), np.float32)
        return {"columns": self.columns(), "data": data, "df_hz": df, "dt_s": self.dt}

    # ---- measurements -------------------------------------------------------------------
    def unit_measurements(self, name):
        f_mhz, ties, sched_kw, ace_kw = self._view(self._units[name][0])[1]
        return {"f_mhz": f_mhz, "ties_kw": list(ties), "sched_kw": sched_kw, "ace_kw": ace_kw}

    def area_state(self, name):
        i = self.names.index(name)
        st = dict(self._view(i)[0])
        st["ties"] = dict(st["ties"])
        st["units_kw"] = int(round(self._unit_u[i] * 1000.0))
        return st

    def _view(self, i):
        """(area_state but units_kw, what unit_measurements reports) of area i at this instant,
        worked out once until the next advance: unit set-points act from the next advance on."""
        key = id(self.lfc)      # (host.market.run swaps in its own LFC)
        v = self._views.get(i)
        if v is not None and v[0] == key:
            return v[1:]
        x = self._state()
        df = float(x[i])
        inc = self.model.inc
        pt = self.model.flows(x)
        ties = {t: inc[i, k] * pt[k] * 1000.0               # kW, export from area i +
                for k, t in enumerate(self.tie_names) if inc[i, k]}
        ace = self.lfc.ace(x[:self._na], inc @ pt)[i]
        st = {"f_mhz": int(round((self.world.f0_hz + df) * 1000.0)),
              "df_mhz": df * 1000.0,
              "ace_kw": int(round(ace * 1000.0)),
              "afrr_kw": int(round(self._afrr[i] * 1000.0)),
              "afrr_target_kw": int(round(self.lfc.target[i] * 1000.0)),
              "afrr_demand_kw": int(round(self.lfc.demand[i] * 1000.0)),
              "igcc_kw": int(round(self.lfc.igcc[i] * 1000.0)),
              "netted_up_kw": int(round(self.lfc.netted_up[i] * 1000.0)),
              "netted_down_kw": int(round(self.lfc.netted_down[i] * 1000.0)),
              "fcr_kw": int(round(float(x[self.model.i_pg][i]) * 1000.0)),
              "units_kw": 0,    # filled in by area_state: units may change until the advance
              "ties": {k: int(round(v)) for k, v in ties.items()}}
        # the IGCC netting exchange counts as scheduled (the TSO adds it to the exchange
        # programme), so the unit's ties - sched + K df is the area's FRCE, as ace_kw
        unit = (st["f_mhz"], tuple(st["ties"].values()),
                int(round((self.lfc.sched[i] + self.lfc.igcc[i]) * 1000.0)), st["ace_kw"])
        self._views[i] = (key, st, unit)
        return st, unit

    def tie_flows_mw(self):
        """AC tie flows (MW, from a to b) by tie name."""
        return dict(zip(self.tie_names, (float(v) for v in self.model.flows(self._state()))))

