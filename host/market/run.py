"""Market run: the emulator's TSO LFC with PICASSO-style activation, the unit as a bidding BSP.

A market file (host/worlds/baltic_market.toml) names an emulator world and adds bids per area,
border capacities (NTC = TTC - TRM, free for aFRR), the unit's bids and market scenarios.

Every 4 s LFC cycle (MarketLfc, a TsoLfc of host.grid.lfc):
1. each area's PI computes its aFRR demand (TsoLfc, anti-windup as in the emulator);
2. the activation optimiser clears all demands against the bids of the current 15-min market
   time unit within the free cross-zonal capacity -> activated bids, satisfied demand, CBMP;
   netting per area for the IGCC columns comes from net(), the same LP without bids;
3. providers of each area deliver their activated bids, the unit gets its set-point;
4. providers of each area ramp per direction towards their activated volume at the emulator's
   rate (band / FAT, aFRR IF: FAT 5 min); the unit at its own volume / FAT (expected response);
5. the ACE correction (exchange on the platform, export +) is, per area and direction,
   igcc_i = delivered_up_i - delivered_down_i - rho_up * received_up_i + rho_down *
   received_down_i - (netted_up_i - netted_down_i), where received = satisfied - netted and
   rho = (delivered so far) / (activated), summed over all areas, per direction. Upward bids
   serve upward demand only (no crossing bids), so sum_i received_up_i = sum of activated
   upward volume and the corrections of all areas sum to zero at every cycle. Netting
   corrects at once (nothing is activated for it).
"""
from __future__ import annotations

import math
import pathlib
import re
import tomllib
from dataclasses import dataclass, field, replace

import numpy as np

from host.capacity.ntc import LIMIT_NAMES, BorderCapacity

from .bids import BidSpec, generate_bids
from .optimiser import DOWN, PRICE_CAP_EUR_MWH, PRICE_FLOOR_EUR_MWH, UP, ActivationOptimiser, Bid
from .publication import CycleLog

UNIT = "unit"   # bsp label of the unit under test


class MarketFileError(ValueError):
    """A bad market file: 'file:line: field: what is wrong'."""


@dataclass
class UnitBid:
    """The unit under test as a BSP: one bid per direction per market time unit."""
    area: str = ""
    up_mw: float = 0.0
    down_mw: float = 0.0
    up_price_eur_mwh: float = 100.0
    down_price_eur_mwh: float = 50.0


@dataclass
class MarketScenario:
    name: str
    grid: str = "quiet"                 # emulator scenario (events, noise) to run under it
    hours: float = 1.0
    description: str = ""
    unit: dict = field(default_factory=dict)      # overrides of UnitBid fields
    borders: dict = field(default_factory=dict)   # "A-B" -> overrides of BorderCapacity fields


@dataclass
class MarketConfig:
    path: str
    world: str                          # path of the emulator world file
    seed: int = 1
    price_cap: float = PRICE_CAP_EUR_MWH
    price_floor: float = PRICE_FLOOR_EUR_MWH
    mtu_s: float = 900.0
    bids: dict = field(default_factory=dict)      # area -> BidSpec
    borders: dict = field(default_factory=dict)   # (a, b) -> BorderCapacity
    unit: UnitBid = field(default_factory=UnitBid)
    scenarios: dict = field(default_factory=dict)


def _lines(text):
    """Map 'table.key' (as written) to the line number, for error messages."""
    idx, table = {}, ""
    for no, raw in enumerate(text.splitlines(), 1):
        s = raw.split("#", 1)[0].strip()
        if s.startswith("["):
            table = s.strip("[] ").replace('"', "")
            idx.setdefault(table, no)
        elif "=" in s:
            key = s.split("=", 1)[0].strip().replace('"', "")
            idx.setdefault(f"{table}.{key}" if table else key, no)
    return idx


def _pair(v):
    if (isinstance(v, list) and len(v) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            and all(x >= 0 for x in v)):
        return (float(v[0]), float(v[1]))
    raise ValueError("must be [a->b, b->a], two numbers >= 0 (MW)")


_MARKET_KEYS = {"world", "seed", "price_cap_eur_mwh", "price_floor_eur_mwh", "mtu_s"}
_BID_KEYS = {"volume_mw", "n_bids", "ref_price_eur_mwh", "markup_median_eur_mwh",
             "markup_sigma"}
_BORDER_KEYS = set(LIMIT_NAMES) | {"trm", "allocated", "mfrr"}
_UNIT_KEYS = {"area", "up_mw", "down_mw", "up_price_eur_mwh", "down_price_eur_mwh"}
_SCEN_KEYS = {"grid", "hours", "description", "unit", "borders"}


def _trm_from_csv(path, a, b, month, fail):
    """(a->b, b->a) TRM in MW for `month` from a flows CSV (host.capacity.trm)."""
    from host.capacity.trm import FlowFileError, read_flows, trm_by_month
    try:
        flows = read_flows(path, canonical=[(a, b)])
    except FlowFileError as e:
        fail(str(e))
    rows = [r for r in trm_by_month(flows) if r["border"] == f"{a}-{b}" and r["month"] == month]
    if not rows:
        fail(f"{path}: no TRM for {a}-{b} in {month} (months covered: data month .. +1)")
    return (rows[0]["trm_ab_mw"], rows[0]["trm_ba_mw"])


def _border_from(name, d, fail, base_dir=pathlib.Path(".")):
    try:
        a, b = name.split("-")
    except ValueError:
        fail(f"borders.{name}", "border name must be 'A-B'")
    kw = {"limits": {}}
    d = dict(d)
    csv_name, month = d.pop("trm_csv", None), d.pop("trm_month", None)
    if csv_name is not None:
        if "trm" in d:
            fail(f"borders.{name}.trm_csv", "give either trm or trm_csv, not both")
        if not isinstance(month, str):
            fail(f"borders.{name}.trm_month", "required with trm_csv: the month, 'YYYY-MM'")
        kw["trm"] = _trm_from_csv(base_dir / csv_name, a, b, month,
                                  lambda msg: fail(f"borders.{name}.trm_csv", msg))
    elif month is not None:
        fail(f"borders.{name}.trm_month", "only with trm_csv")
    for k, v in d.items():
        if k not in _BORDER_KEYS:
            fail(f"borders.{name}.{k}",
                 f"unknown field (allowed: {', '.join(sorted(_BORDER_KEYS))})")
        try:
            p = _pair(v)
        except ValueError as e:
            fail(f"borders.{name}.{k}", str(e))
        if k in LIMIT_NAMES:
            kw["limits"][k] = p
        else:
            kw[k] = p
    return BorderCapacity(a, b, **kw)


def load_market(path):
    """Read and validate a market TOML file; MarketFileError('file:line: field: msg')."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise MarketFileError(f"{path}:?: file: cannot read ({e.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise MarketFileError(f"{path}:{m.group(1) if m else '?'}: syntax: {e}") from None
    idx = _lines(text)

    def fail(where, msg):
        line = idx.get(where) or idx.get(where.rsplit(".", 1)[0]) or "?"
        raise MarketFileError(f"{path}:{line}: {where}: {msg}")

    for k in data:
        if k not in ("market", "bids", "borders", "unit", "scenarios"):
            fail(k, "unknown section (allowed: bids, borders, market, scenarios, unit)")
    m = data.get("market", {})
    for k in m:
        if k not in _MARKET_KEYS:
            fail(f"market.{k}", f"unknown field (allowed: {', '.join(sorted(_MARKET_KEYS))})")
    if "world" not in m:
        fail("market.world", "required field missing (the emulator world file)")
    world = pathlib.Path(m["world"])
    if not world.is_absolute():
        world = path.parent / world
    cfg = MarketConfig(path=str(path), world=str(world))
    for key, attr in (("seed", "seed"), ("price_cap_eur_mwh", "price_cap"),
                      ("price_floor_eur_mwh", "price_floor"), ("mtu_s", "mtu_s")):
        if key in m:
            v = m[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                fail(f"market.{key}", f"must be a number (got {v!r})")
            setattr(cfg, attr, int(v) if attr == "seed" else float(v))
    if not cfg.price_floor < cfg.price_cap:
        fail("market.price_floor_eur_mwh", "must be below price_cap_eur_mwh")
    if not cfg.mtu_s > 0:
        fail("market.mtu_s", "must be > 0")
    for area, d in data.get("bids", {}).items():
        for k in d:
            if k not in _BID_KEYS:
                fail(f"bids.{area}.{k}", f"unknown field (allowed: {', '.join(sorted(_BID_KEYS))})")
        try:
            cfg.bids[area] = BidSpec(**d)
        except (TypeError, ValueError) as e:
            fail(f"bids.{area}", str(e))
    for name, d in data.get("borders", {}).items():
        try:
            bc = _border_from(name, d, fail, path.parent)
        except ValueError as e:
            fail(f"borders.{name}", str(e))
        cfg.borders[(bc.a, bc.b)] = bc
    u = data.get("unit", {})
    for k in u:
        if k not in _UNIT_KEYS:
            fail(f"unit.{k}", f"unknown field (allowed: {', '.join(sorted(_UNIT_KEYS))})")
    cfg.unit = UnitBid(**u)
    for name, d in data.get("scenarios", {}).items():
        for k in d:
            if k not in _SCEN_KEYS:
                fail(f"scenarios.{name}.{k}",
                     f"unknown field (allowed: {', '.join(sorted(_SCEN_KEYS))})")
        for k in d.get("unit", {}):
            if k not in _UNIT_KEYS:
                fail(f"scenarios.{name}.unit", f"unknown unit field {k!r}")
        resolved = {}
        for bname, bd in d.get("borders", {}).items():
            bc = _border_from(bname, bd, fail, path.parent)
            over = {k: v for k, v in bd.items() if k not in ("trm_csv", "trm_month")}
            if "trm_csv" in bd:
                over["trm"] = list(bc.trm)
            resolved[bname] = over
        cfg.scenarios[name] = MarketScenario(name=name, **{**d, "borders": resolved})
    return cfg


# ------------------------------------------------------------------------------- the LFC
class MarketLfc:
    """Factory wrapper: builds a subclass instance of the emulator's TsoLfc (imported lazily so
    that host.market stays importable without the emulator)."""

    def __new__(cls, *a, **kw):
        return _market_lfc_class()(*a, **kw)


_CLS = None


def _market_lfc_class():
    global _CLS
    if _CLS is not None:
        return _CLS
    from host.grid.lfc import TsoLfc, ramp

    class _MarketLfc(TsoLfc):
        def __init__(self, world, market_bids, caps_kw, *, seed=1, mtu_s=900.0,
                     price_cap=PRICE_CAP_EUR_MWH, price_floor=PRICE_FLOOR_EUR_MWH,
                     unit=None, on_unit=None, enabled=True, log=None):
            super().__init__(world, enabled=enabled, netting=False)
            self.world = world
            self.bid_specs = market_bids          # area -> BidSpec
            self.caps_kw = caps_kw                # (a, b) -> (kW, kW), every world tie
            self.seed, self.mtu_s = seed, mtu_s
            self.price_cap, self.price_floor = price_cap, price_floor
            self.unit = unit or UnitBid()
            self.on_unit = on_unit
            self.cycle_s = world.lfc_cycle_s
            self.fat_s = max(a.afrr_fat_s for a in world.areas)
            na = len(self.names)
            self._del_up, self._del_dn = np.zeros(na), np.zeros(na)    # MW delivered
            self._up0, self._dn0 = np.zeros(na), np.zeros(na)
            self._t_up, self._t_dn = np.zeros(na), np.zeros(na)
            self._u_up = self._u_dn = 0.0                               # MW, the unit
            self._mtu = None
            self._opt = None
            self._net = ActivationOptimiser(self.names, list(caps_kw), (), backend="highspy")
            self.n_cycles = 0
            self.log = log if log is not None else CycleLog(areas=list(self.names),
                                                           cycle_s=self.cycle_s,
                                                           unit_area=self.unit.area)
            self.last = None                      # last ClearingResult
            self.unit_setpoint_kw = 0.0
            self.unit_delivered_kw = 0.0

        def bids_for(self, mtu):
            bids = generate_bids(self.bid_specs, self.seed, mtu, self.price_cap,
                                 self.price_floor)
            u = self.unit
            if u.area:
                if u.up_mw > 0:
                    bids.append(Bid(u.area, UP, u.up_mw * 1000.0, u.up_price_eur_mwh, UNIT))
                if u.down_mw > 0:
                    bids.append(Bid(u.area, DOWN, u.down_mw * 1000.0, u.down_price_eur_mwh,
                                    UNIT))
            return bids

        def cycle(self, ace_mw, dt_s):
            super().cycle(ace_mw, dt_s)          # PI + anti-windup -> self.demand (MW)
            t_s = self.n_cycles * self.cycle_s
            mtu = int(t_s // self.mtu_s)
            if mtu != self._mtu:
                self._mtu = mtu
                self.bids = self.bids_for(mtu)
                self._opt = ActivationOptimiser(self.names, list(self.caps_kw), self.bids,
                                                price_cap=self.price_cap,
                                                price_floor=self.price_floor,
                                                backend="highspy")
                self._bid_area = np.array([self.names.index(b.area) for b in self.bids])
                self._bid_sign = np.array([b.direction for b in self.bids], dtype=float)
                self._bid_unit = np.array([b.bsp == UNIT for b in self.bids])
            d_kw = {n: float(v) * 1000.0 for n, v in zip(self.names, self.demand)}
            res = self._opt.solve(d_kw, self.caps_kw)
            self.last = res
            na = len(self.names)
            x = res.activated_kw / 1000.0                                   # MW per bid
            up, dn, unit = self._bid_sign > 0, self._bid_sign < 0, self._bid_unit
            t_up = np.bincount(self._bid_area[up & ~unit], x[up & ~unit], na)
            t_dn = np.bincount(self._bid_area[dn & ~unit], x[dn & ~unit], na)
            u_up, u_dn = float(x[up & unit].sum()), float(x[dn & unit].sum())
            unit_sp_kw = (u_up - u_dn) * 1000.0
            sat_up = np.array([res.satisfied_up_kw[n] for n in self.names]) / 1000.0
            sat_dn = np.array([res.satisfied_down_kw[n] for n in self.names]) / 1000.0
            if np.any(self.demand > 0) and np.any(self.demand < 0):
                nres = self._net.solve(d_kw, self.caps_kw)
                nup = np.array([nres.satisfied_up_kw[n] for n in self.names]) / 1000.0
                ndn = np.array([nres.satisfied_down_kw[n] for n in self.names]) / 1000.0
            else:
                nup, ndn = np.zeros(na), np.zeros(na)
            # expected response over this cycle: each area's providers per direction ramp at
            # the emulator's rate (band / FAT), the unit at its own volume / FAT
            T = self.cycle_s
            self._up0, self._dn0 = self._del_up, self._del_dn
            lim = self.rate * T
            self._del_up = ramp(self._up0, t_up, lim)
            self._del_dn = ramp(self._dn0, t_dn, lim)
            self._t_up, self._t_dn = t_up, t_dn
            ulim = max(self.unit.up_mw, self.unit.down_mw) / self.fat_s * T
            uu0, ud0 = self._u_up, self._u_dn
            self._u_up = float(ramp(uu0, u_up, ulim))
            self._u_dn = float(ramp(ud0, u_dn, ulim))
            l_up, l_dn = self._del_up.copy(), self._del_dn.copy()
            if self.unit.area:
                ui = self.names.index(self.unit.area)
                l_up[ui] += self._u_up
                l_dn[ui] += self._u_dn
            # share of the activated volume delivered so far, per direction; applied to what
            # each area receives, so that the corrections sum to zero over the areas
            tu, td = t_up.sum() + u_up, t_dn.sum() + u_dn
            rho_up = l_up.sum() / tu if tu > 1e-9 else 1.0
            rho_dn = l_dn.sum() / td if td > 1e-9 else 1.0
            recv_up = np.maximum(sat_up - nup, 0.0)
            recv_dn = np.maximum(sat_dn - ndn, 0.0)
            self.igcc = (l_up - l_dn) - rho_up * recv_up + rho_dn * recv_dn - (nup - ndn)
            self.netted_up, self.netted_down = nup, ndn
            self.target = t_up - t_dn
            delivered = 500.0 * ((uu0 - ud0) + (self._u_up - self._u_dn))   # kW, cycle mean
            if self.on_unit is not None:
                got = self.on_unit(unit_sp_kw, delivered)
                if got is not None:
                    delivered = float(got)
            self.unit_setpoint_kw, self.unit_delivered_kw = unit_sp_kw, delivered
            sat = sat_up - sat_dn
            cb = np.array([res.cbmp_eur_mwh[n] for n in self.names])
            self.log.append(t_s, ace_mw, self.demand, np.maximum(sat, 0), np.maximum(-sat, 0),
                            nup, ndn, cb, unit_sp_kw, delivered)
            self.n_cycles += 1
            return self.target

        def provider_path(self, p0, n, dt_s):
            """Providers of each area, per direction, ramp towards their activated volume at
            the emulator's rate (band / FAT), as the expected response assumes."""
            lim = self.rate * (np.arange(1, n + 1) * dt_s)[:, None]
            return ramp(self._up0, self._t_up, lim) - ramp(self._dn0, self._t_dn, lim)

    _CLS = _MarketLfc
    return _CLS


# ------------------------------------------------------------------------------- a run
def free_caps_kw(world, borders):
    """Free capacity per world tie (kW): a market border's NTC-based free capacity where the
    market file gives one, else the world tie's cap_ab_mw / cap_ba_mw."""
    caps = {}
    for t in world.ties:
        bc = borders.get((t.a, t.b))
        if bc is not None:
            ab, ba = bc.free_for_afrr()
        else:
            bc = borders.get((t.b, t.a))
            if bc is not None:
                ba, ab = bc.free_for_afrr()
            else:
                ab, ba = t.cap_ab_mw, t.cap_ba_mw
        caps[(t.a, t.b)] = (ab * 1000.0, ba * 1000.0)
    for a, b in borders:
        if not any({a, b} == {t.a, t.b} for t in world.ties):
            raise ValueError(f"market border {a}-{b} is not a tie of world {world.name!r}")
    return caps


def scenario_config(cfg, name):
    """Apply a market scenario's overrides: returns (unit, borders, scenario)."""
    if name not in cfg.scenarios:
        raise ValueError(f"{cfg.path}: scenario: unknown {name!r} "
                         f"(known: {', '.join(cfg.scenarios)})")
    sc = cfg.scenarios[name]
    unit = replace(cfg.unit, **sc.unit)
    borders = dict(cfg.borders)
    for bname, over in sc.borders.items():
        a, b = bname.split("-")
        base = borders.get((a, b)) or BorderCapacity(a, b, limits={})
        limits = dict(base.limits)
        kw = {}
        for k, v in over.items():
            if k in LIMIT_NAMES:
                limits[k] = _pair(v)
            else:
                kw[k] = _pair(v)
        borders[(a, b)] = replace(base, limits=limits, **kw)
    return unit, borders, sc


class MarketRun:
    """One market scenario over the emulator. run(hours) -> CycleLog.

    The unit under test (`[unit]` in the market file) is an external unit of the emulator.
    Every 4 s cycle `on_unit(setpoint_kw, expected_kw)` is called, if given, with the unit's
    activated volume (+ = upward) and the expected response (its ramp at volume / FAT); it may
    return the power the unit really delivers over the cycle (kW, e.g. measured from firmware
    in remote mode on the HIL rig), which is injected into the grid and settled; returning
    None means the unit follows the expected response exactly.
    """

    def __init__(self, cfg, scenario, seed=None, step_ms=100, on_unit=None):
        from host.grid import Simulator, load_world
        if not isinstance(cfg, MarketConfig):
            cfg = load_market(cfg)
        self.cfg = cfg
        self.world = load_world(cfg.world)
        unit, borders, sc = scenario_config(cfg, scenario)
        self.unit, self.scenario = unit, sc
        if unit.area and unit.area not in [a.name for a in self.world.areas]:
            raise ValueError(f"{cfg.path}: unit.area: unknown area {unit.area!r}")
        for area in cfg.bids:
            if area not in [a.name for a in self.world.areas]:
                raise ValueError(f"{cfg.path}: bids.{area}: not an area of the world")
        self.caps_kw = free_caps_kw(self.world, borders)
        self.seed = cfg.seed if seed is None else seed
        self.sim = Simulator(self.world, scenario=sc.grid, seed=self.seed, step_ms=step_ms)
        if unit.area:
            self.sim.add_unit(UNIT, unit.area)

        def _unit(sp_kw, delivered_kw):
            got = on_unit(sp_kw, delivered_kw) if on_unit else None
            p = delivered_kw if got is None else got
            if unit.area:
                self.sim.set_unit_power(UNIT, p)
            return p

        self.lfc = MarketLfc(self.world, cfg.bids, self.caps_kw, seed=self.seed,
                             mtu_s=cfg.mtu_s, price_cap=cfg.price_cap,
                             price_floor=cfg.price_floor, unit=unit, on_unit=_unit,
                             enabled=self.sim.lfc.enabled)
        self.sim.lfc = self.lfc   # the emulator calls lfc.cycle / provider_path / igcc

    def run(self, hours=None, progress=False):
        hours = self.scenario.hours if hours is None else hours
        cyc_ms = int(round(self.world.lfc_cycle_s * 1000))
        n = int(math.ceil(hours * 3600_000 / cyc_ms))
        it = range(n)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc=f"market {self.scenario.name}", unit="cycle", mininterval=1.0)
        for _ in it:
            self.sim.advance(cyc_ms)
        return self.lfc.log
