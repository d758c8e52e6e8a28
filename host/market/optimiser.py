"""aFRR activation optimiser: one welfare LP over areas, bids and borders; prices from its duals.

Model (one 4 s cycle, PICASSO-style, see docs in host/market/__init__.py):

    variables  x_k   activated volume of bid k          [0, volume_k]          kW
               ub_i  satisfied upward demand of area i  [0, max(d_i, 0)]       kW
               sb_i  satisfied downward demand          [0, max(-d_i, 0)]      kW
               f_e   exchange on border e=(a,b)         [-cap_ba, cap_ab]      kW, + = a to b
    balance    sum_{up k in i} x_k - sum_{down k in i} x_k + sb_i - ub_i
                   - sum_{e=(i,.)} f_e + sum_{e=(.,i)} f_e = 0         (dual = price of area i)
    minimise   sum_up (p_k + eps) x_k + sum_down (-p_k + eps) x_k - P_up_i ub_i + P_down_i sb_i

i.e. maximise welfare: the TSO buys upward demand at up to P_up (default price cap) and sells
downward demand at down to P_down (default price floor); up bids sell at p_k, down bids buy at
p_k (a positive downward price is paid by the BSP to the TSO). A unit of upward demand served by
a unit of downward demand of another area (IGCC netting) is worth P_up - P_down (30 000 EUR/MWh
with the defaults), more than any trade with a bid inside the limits, so netting always comes
first. With no bids at all the same LP is the price-free imbalance netting (host.market.netting).

Prices: the dual of an area's balance row is d(cost)/d(extra injection demand), EUR/MWh: the
cross-border marginal price (CBMP). A partly activated bid sets the price of its region;
areas joined by uncongested borders have equal duals (complementary slackness), a congested
border separates them. eps (1e-3 EUR/MWh) only breaks ties against pointless activation; the
reported CBMP is the dual, within eps of the marginal bid's price.

Known reading: bids whose prices cross (a downward bid priced above an upward bid in one price
region) would be matched with each other, as in any welfare-maximising exchange. The seeded bid
generator never produces crossing bids; tests check that without crossing no region activates
both directions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter

import numpy as np
import scipy.sparse as sp

# Harmonised maximum and minimum aFRR balancing energy price, EUR/MWh. ACER Decision 01/2023
# (amendment of the pricing methodology, Art. 9) sets +-15 000 EUR/MWh for PICASSO and MARI.
# Not checked against the decision text itself, so here it is *assumed* and configurable.
PRICE_CAP_EUR_MWH = 15_000.0
PRICE_FLOOR_EUR_MWH = -15_000.0
EPS_EUR_MWH = 1e-3  # tie-breaker cost per activated kW (never move energy for nothing)
UP = 1
DOWN = -1


@dataclass(frozen=True)
class Bid:
    """A divisible aFRR balancing energy bid."""
    area: str
    direction: int          # UP (+1) or DOWN (-1)
    volume_kw: float        # kW offered, >= 0
    price_eur_mwh: float    # EUR/MWh; for DOWN, + = the BSP pays the TSO
    bsp: str = ""           # free label, e.g. "unit" for the unit under test


@dataclass
class ClearingResult:
    """Outcome of one optimisation cycle. Every power is kW, + = upward / a-to-b."""
    areas: list
    activated_kw: np.ndarray              # per bid, >= 0, in the order the bids were given
    satisfied_kw: dict                    # area -> satisfied demand (signed, + = upward)
    after_kw: dict                        # area -> demand left unsatisfied (signed)
    exchange_kw: dict                     # (a, b) -> kW, + = a to b
    cbmp_eur_mwh: dict                    # area -> CBMP, EUR/MWh (dual of its balance)
    regions: list                         # list of frozensets: areas sharing one price
    satisfied_up_kw: dict = field(default_factory=dict)    # area -> ub_i
    satisfied_down_kw: dict = field(default_factory=dict)  # area -> sb_i
    activation_cost_eur_h: float = 0.0    # sum over bids of pay-as-bid cost rate, EUR/h
    objective: float = 0.0                # LP objective (kW * EUR/MWh)

    def netted_total_kw(self):
        """Volume netted system-wide: satisfied demand not covered by bids, halved."""
        act = self.activated_kw.sum() if len(self.activated_kw) else 0.0
        sat = sum(self.satisfied_up_kw.values()) + sum(self.satisfied_down_kw.values())
        return max(0.0, (sat - act) / 2.0)


_BID_NUMBERS = attrgetter("direction", "volume_kw", "price_eur_mwh")
_BID_AREA = attrgetter("area")
_NUMBER_TYPES = frozenset((int, float, bool, np.float64, np.float32, np.int64, np.int32))


def _number_in(v, lo, hi):
    """v is a number (not text), lo <= v <= hi and finite."""
    if isinstance(v, (str, bytes)):
        return False
    try:
        return lo <= v <= hi and math.isfinite(v)
    except TypeError:
        return False


def _check_cap(name, v):
    v = float(v)
    if not v >= 0.0:  # also catches NaN
        raise ValueError(f"{name}: free capacity must be >= 0 kW, got {v!r}")
    return v


class ActivationOptimiser:
    """The LP for a fixed set of areas, borders and bids; solve() once per 4 s cycle.

    Structure (matrix) is built once; each solve changes only bounds (demands, free capacities,
    bid volumes). backend "linprog" calls scipy.optimize.linprog(method="highs") on the whole LP
    afresh; "highspy" keeps one HiGHS instance and warm-starts from the last basis.

    highspy solves the LP over a working set of bids (column generation, "sifting"): the model
    starts with the `working_set` cheapest bids of each area and direction (all demand and
    border columns always in); after each solve the area prices y price every bid left out,
    reduced cost c_k - direction_k * y_area(k); a bid with room (volume > 0) and a reduced cost
    below HiGHS's dual feasibility tolerance would improve the objective, so the cheapest such
    bids of each area and direction join the model (at most doubling that group per round) and
    it is solved again from its basis. When none is left, every left-out bid at 0 satisfies
    the optimality conditions of the whole LP with the same tolerance HiGHS applies to its
    own columns: the answer is an optimum of the whole LP, found by a solver that sees a few
    hundred columns. Why: one cycle activates a few bids per area (netting comes first), but
    HiGHS's dual ratio test with bound flipping (HEkkDualRow::chooseFinalWorkGroupQuad; HiGHS
    1.16 always takes this quadratic variant, its heap-sort one is switched off) rescans every
    candidate bid of the pivot row once per group of breakpoints it passes, about one per bid
    flipped to its bound: with all bids in the model that was 40-50 % of a cycle's CPU time at
    15 000 to 50 000 bids (perf), growing with bids x bids flipped. The working set persists
    across cycles (warm start).
    warm_start=False (highspy only) starts every cycle from the first working set in a fresh
    model: where the optimum is not unique the answer is then a function of this cycle's
    inputs alone, never of the previous basis or working set.
    highs_options (highspy only): option name -> value, set once on the HiGHS instance, over
    the default {"presolve": "off"}: the model has one row per area and a bound per column, so
    presolve finds nothing to remove and only costs time, growing faster than the bid count
    (measured: bids^1.5 with it; same objective without it, tests/test_market_optimiser.py).
    """

    def __init__(self, areas, borders, bids=(), *, price_cap=PRICE_CAP_EUR_MWH,
                 price_floor=PRICE_FLOOR_EUR_MWH, demand_prices=None, eps=EPS_EUR_MWH,
                 backend="linprog", warm_start=True, highs_options=None, working_set=8):
        if not price_floor < price_cap:
            raise ValueError(f"price_floor {price_floor} must be below price_cap {price_cap}")
        if backend not in ("linprog", "highspy"):
            raise ValueError(f"backend must be 'linprog' or 'highspy', got {backend!r}")
        self.areas = list(dict.fromkeys(areas))
        self.index = {a: i for i, a in enumerate(self.areas)}
        self.borders = list(borders)
        for a, b in self.borders:
            if a == b:
                raise ValueError(f"border {(a, b)!r} joins an area to itself")
            for x in (a, b):
                if x not in self.index:
                    raise ValueError(f"border {(a, b)!r}: unknown area {x!r}")
        self.bids = list(bids)
        self.price_cap = float(price_cap)
        self.price_floor = float(price_floor)
        self.backend = backend
        self.warm_start = bool(warm_start)
        if isinstance(working_set, bool) or not isinstance(working_set, int) or working_set < 1:
            raise ValueError(f"working_set must be an integer >= 1, got {working_set!r}")
        self.working_set = working_set
        self.highs_options = {"presolve": "off", **(highs_options or {})}
        self.eps = float(eps)
        n, nb, ne = len(self.areas), len(self.bids), len(self.borders)
        self.n, self.nb, self.ne = n, nb, ne
        # the bids' numbers in one C-level pass, then vectorised checks (a model of 50 000 bids
        # is built in milliseconds); on any doubt the loop below names the first bad bid
        nums = list(chain.from_iterable(map(_BID_NUMBERS, self.bids)))
        b_area = np.fromiter(map(self.index.get, map(_BID_AREA, self.bids), repeat(-1)),
                             np.int64, nb)
        # numpy would read "1" as 1.0: text where a number belongs goes to the loop
        bad = not _NUMBER_TYPES.issuperset(map(type, nums))
        if not bad:
            try:
                b_dir, b_vol, b_price = np.fromiter(nums, np.float64, 3 * nb).reshape(nb, 3).T
                with np.errstate(invalid="ignore"):
                    bad = bool(np.any((b_area < 0) | ((b_dir != UP) & (b_dir != DOWN))
                                      | ~(b_vol >= 0) | ~np.isfinite(b_vol)
                                      | ~(b_price >= self.price_floor)
                                      | ~(b_price <= self.price_cap)))
            except (TypeError, ValueError):
                bad = True
        if bad:
            for k, bid in enumerate(self.bids):
                self._check_bid(k, bid)
        self.bid_area, self.bid_dir, self.bid_volume, self.bid_price = b_area, b_dir, b_vol, b_price
        p_up = np.full(n, self.price_cap)
        p_down = np.full(n, self.price_floor)
        for a, (pu, pd) in (demand_prices or {}).items():
            if a not in self.index:
                raise ValueError(f"demand_prices: unknown area {a!r}")
            if not (self.price_floor <= pd < pu <= self.price_cap):
                raise ValueError(f"demand_prices[{a!r}]: need floor <= down < up <= cap")
            p_up[self.index[a]], p_down[self.index[a]] = pu, pd
        self.p_up, self.p_down = p_up, p_down
        # columns: [bids | ub | sb | flows]
        self.nv = nb + 2 * n + ne
        self.c = np.concatenate([b_dir * b_price + eps, -p_up, p_down, np.zeros(ne)])
        ea = np.array([self.index[a] for a, _ in self.borders], dtype=np.int64)
        eb = np.array([self.index[b] for _, b in self.borders], dtype=np.int64)
        self.border_a, self.border_b = ea, eb
        # column-wise straight away: one entry per bid, ub and sb column, two per border (a: -1,
        # b: +1, the lower row first): the matrix a (rows, cols) triplet conversion gives,
        # without its sort
        starts = np.concatenate([np.arange(nb + 2 * n), nb + 2 * n + 2 * np.arange(ne + 1)])
        a_first = ea < eb
        pair_rows = np.column_stack([np.minimum(ea, eb), np.maximum(ea, eb)]).reshape(-1)
        pair_vals = np.column_stack([np.where(a_first, -1.0, 1.0),
                                     np.where(a_first, 1.0, -1.0)]).reshape(-1)
        rows = np.concatenate([b_area, np.arange(n), np.arange(n), pair_rows])
        vals = np.concatenate([b_dir, -np.ones(n), np.ones(n), pair_vals])
        self.A = sp.csc_matrix((vals, rows, starts), shape=(n, self.nv))
        self._highs = None
        self._first = None    # highspy: the first working set (bid indices), built on first use

    def _check_bid(self, k, bid):
        if bid.area not in self.index:
            raise ValueError(f"bid {k}: unknown area {bid.area!r}")
        if isinstance(bid.direction, (str, bytes)) or bid.direction not in (UP, DOWN):
            raise ValueError(f"bid {k}: direction must be +1 (up) or -1 (down), "
                             f"got {bid.direction!r}")
        if not _number_in(bid.volume_kw, 0.0, math.inf):
            raise ValueError(f"bid {k}: volume_kw must be finite and >= 0, "
                             f"got {bid.volume_kw!r}")
        if not _number_in(bid.price_eur_mwh, self.price_floor, self.price_cap):
            raise ValueError(f"bid {k}: price {bid.price_eur_mwh!r} EUR/MWh outside "
                             f"[{self.price_floor}, {self.price_cap}]")

    # ---- bounds -----------------------------------------------------------------------
    def _bounds(self, demands_kw, caps, volumes):
        n, nb = self.n, self.nb
        d = np.zeros(n)
        for a, v in demands_kw.items():
            if a not in self.index:
                raise ValueError(f"demand for unknown area {a!r}")
            v = float(v)
            if not math.isfinite(v):
                raise ValueError(f"demand of {a!r} must be finite, got {v!r}")
            d[self.index[a]] = v
        lo = np.zeros(self.nv)
        hi = np.empty(self.nv)
        if volumes is None:
            hi[:nb] = self.bid_volume
        else:
            vol = np.asarray(volumes, dtype=float)
            if vol.shape != (nb,) or not np.all(vol >= 0):
                raise ValueError("volumes must be one value >= 0 per bid")
            hi[:nb] = vol
        hi[nb:nb + n] = np.maximum(d, 0.0)
        hi[nb + n:nb + 2 * n] = np.maximum(-d, 0.0)
        for j, e in enumerate(self.borders):
            ab, ba = caps[e]
            lo[nb + 2 * n + j] = -_check_cap(f"border {e!r} b->a", ba)
            hi[nb + 2 * n + j] = _check_cap(f"border {e!r} a->b", ab)
        return d, lo, hi

    # ---- solve ------------------------------------------------------------------------
    def solve(self, demands_kw, caps, volumes=None):
        """One cycle. demands_kw: area -> kW (+ up); caps: (a, b) -> (free a->b, free b->a) kW
        for every border given at construction (math.inf allowed); volumes: optional per-bid
        override of the offered kW. Returns a ClearingResult."""
        return self._result(*self._solve(demands_kw, caps, volumes))

    def solve_volumes(self, demands_kw, caps, volumes=None):
        """The same solve, primal part only (no prices, regions or dicts), for the price-free
        netting every emulator cycle: arrays (demand, satisfied up, satisfied down) in area
        order and exchange in border order, kW; the values ClearingResult would hold."""
        d, x, _, _, _, _ = self._solve(demands_kw, caps, volumes)
        n, nb = self.n, self.nb
        return d, x[nb:nb + n], x[nb + n:nb + 2 * n], x[nb + 2 * n:]

    def _solve(self, demands_kw, caps, volumes):
        missing = [e for e in self.borders if e not in caps]
        if missing:
            raise ValueError(f"no free capacity given for border(s) {missing!r}")
        d, lo, hi = self._bounds(demands_kw, caps, volumes)
        if self.backend == "linprog":
            x, y, obj = self._solve_linprog(lo, hi)
        else:
            x, y, obj = self._solve_highspy(lo, hi)
        x = np.clip(x, lo, hi)  # basic variables may sit 1e-9 outside: make bounds exact
        return d, x, y, obj, lo, hi

    def _solve_linprog(self, lo, hi):
        from scipy.optimize import linprog  # here: its import costs every emulator process

        bounds = np.column_stack([lo, np.where(np.isinf(hi), np.inf, hi)])
        bounds[:, 0] = np.where(np.isinf(lo), -np.inf, lo)
        res = linprog(self.c, A_eq=self.A, b_eq=np.zeros(self.n), bounds=bounds,
                      method="highs")
        if res.status != 0:
            raise RuntimeError(f"activation LP failed: {res.message}")
        # eqlin.marginals = d(objective)/d(b_eq): the price of one more kW of injection demand
        return res.x, np.asarray(res.eqlin.marginals), res.fun

    def _solve_highspy(self, lo, hi):
        import highspy
        inf = highspy.kHighsInf
        lo = np.where(np.isinf(lo), -inf, lo)
        hi = np.where(np.isinf(hi), inf, hi)
        nb = self.nb
        h = self._highs
        if h is None:
            h = _quiet_highs(highspy)
            for name, value in self.highs_options.items():
                if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
                    raise ValueError(f"highs_options: bad option {name!r} = {value!r}")
            self._dual_tol = float(h.getOptionValue("dual_feasibility_tolerance")[1])
            self._highs = h
            self._pass_first_model(highspy, lo, hi)
        elif not self.warm_start:
            self._pass_first_model(highspy, lo, hi)    # no basis, no working set kept
        else:
            # only the bounds that moved (demands, capacities, volumes of bids in the model):
            # HiGHS keeps its basis. Model columns: [ub | sb | flows | bids in the model].
            idx = np.nonzero((lo != self._lo) | (hi != self._hi))[0]
            bid = idx[idx < nb]
            bid = bid[self._pos[bid] >= 0]
            full = np.concatenate([idx[idx >= nb], bid])
            if len(full):
                cols = np.concatenate([idx[idx >= nb] - nb, self._pos[bid]]).astype(np.int32)
                h.changeColsBounds(len(cols), cols, lo[full], hi[full])
        self._lo, self._hi = lo, hi
        while True:
            h.run()
            status = h.getModelStatus()
            if status != highspy.HighsModelStatus.kOptimal:
                raise RuntimeError(f"activation LP failed: {h.modelStatusToString(status)}")
            sol = h.getSolution()
            y = np.asarray(sol.row_dual)
            new = self._priced_in(y, hi)
            if not len(new):
                break
            self._add_bids(h, new, lo, hi)
        v = np.asarray(sol.col_value)
        x = np.zeros(self.nv)
        x[nb:] = v[:self.nv - nb]
        x[self._cols] = v[self.nv - nb:]
        return x, y, h.getInfo().objective_function_value

    def _first_working_set(self):
        """The working_set cheapest bids (least cost c) of each area and direction, and each
        bid's group (2 * area + 1 if downward). Linear in the bids: one stable sort of small
        integers, then a partial sort per group."""
        nb, k = self.nb, self.working_set
        group = self.bid_area * 2 + (self.bid_dir < 0)
        order = np.argsort(group, kind="stable")
        ends = np.searchsorted(group[order], np.arange(2 * self.n + 1))
        cost = self.c[:nb]
        pick = [np.zeros(0, np.int64)]
        for s, e in zip(ends[:-1], ends[1:]):
            members = order[s:e]
            if len(members) > k:
                members = members[np.argpartition(cost[members], k - 1)[:k]]
            pick.append(members)
        return np.sort(np.concatenate(pick)), group

    def _pass_first_model(self, highspy, lo, hi):
        """A model of the demand and border columns and the first working set of bids."""
        nb, m = self.nb, self.nv - self.nb
        if self._first is None:
            self._first, self._group = self._first_working_set()
        cols = self._first
        fixed = self.A[:, nb:]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = m + len(cols), self.n
        lp.col_cost_ = np.concatenate([self.c[nb:], self.c[cols]])
        lp.col_lower_ = np.concatenate([lo[nb:], lo[cols]])
        lp.col_upper_ = np.concatenate([hi[nb:], hi[cols]])
        lp.row_lower_ = lp.row_upper_ = np.zeros(self.n)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.concatenate(
            [fixed.indptr, fixed.nnz + 1 + np.arange(len(cols))]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate([fixed.indices, self.bid_area[cols]]).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate([fixed.data, self.bid_dir[cols]])
        self._highs.passModel(lp)
        self._cols = cols.copy()                      # model column m + j is bid _cols[j]
        self._pos = np.full(nb, -1, np.int64)          # bid -> model column, -1 if left out
        self._pos[cols] = m + np.arange(len(cols))
        self._in_group = np.bincount(self._group[cols], minlength=2 * self.n)

    def _priced_in(self, y, hi):
        """Bids left out of the model whose reduced cost at the area prices y is below the
        dual feasibility tolerance and that have room: per area and direction the cheapest
        ones, at most as many as the group has in the model (at least working_set)."""
        nb = self.nb
        if len(self._cols) == nb:
            return self._cols[:0]
        rc = self.c[:nb] - self.bid_dir * y[self.bid_area]
        new = np.nonzero((self._pos < 0) & (hi[:nb] > 0) & (rc < -self._dual_tol))[0]
        if len(new) == 0:
            return new
        g = self._group[new]
        o = np.lexsort((self.c[new], g))        # within a group rc is c shifted by one price
        new, g = new[o], g[o]
        rank = np.arange(len(new)) - np.searchsorted(g, g)
        return new[rank < np.maximum(self._in_group[g], self.working_set)]

    def _add_bids(self, h, new, lo, hi):
        k, m = len(new), self.nv - self.nb + len(self._cols)
        h.addCols(k, self.c[new], lo[new], hi[new], k, np.arange(k, dtype=np.int32),
                  self.bid_area[new].astype(np.int32), self.bid_dir[new].astype(np.float64))
        self._pos[new] = m + np.arange(k)
        self._cols = np.concatenate([self._cols, new])
        self._in_group += np.bincount(self._group[new], minlength=2 * self.n)

    # ---- result -------------------------------------------------------------------------
    def _result(self, d, x, y, obj, lo, hi):
        n, nb = self.n, self.nb
        act = x[:nb]
        ub = x[nb:nb + n]
        sb = x[nb + n:nb + 2 * n]
        f = x[nb + 2 * n:]
        areas = self.areas
        prices = np.clip(y, self.price_floor, self.price_cap)
        prices = self._degenerate_prices(prices, self._regions(prices), x, lo, hi, d)
        sat = ub - sb
        return ClearingResult(
            areas=list(areas),
            activated_kw=act.copy(),
            satisfied_kw={areas[i]: float(sat[i]) for i in range(n)},
            after_kw={areas[i]: float(d[i] - sat[i]) for i in range(n)},
            exchange_kw={e: float(f[j]) for j, e in enumerate(self.borders)},
            cbmp_eur_mwh={areas[i]: float(prices[i]) for i in range(n)},
            regions=[frozenset(areas[i] for i in g) for g in self._regions(prices)],
            satisfied_up_kw={areas[i]: float(ub[i]) for i in range(n)},
            satisfied_down_kw={areas[i]: float(sb[i]) for i in range(n)},
            # an elementwise product and numpy's own sum, not np.dot: above 10 000 elements
            # OpenBLAS splits a dot product over threads whose workers then busy-wait for
            # more work, doubling the CPU time of everything that follows in the process
            activation_cost_eur_h=float(np.add.reduce(self.bid_dir * self.bid_price * act)
                                        / 1000.0),
            objective=float(obj),
        )

    def _regions(self, prices, tol=1e-5):
        """Price regions: lists of area indices joined by borders across which the price
        does not change (tol EUR/MWh; distinct regions differ by at least 2 * eps = 2e-3)."""
        parent = list(range(self.n))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i
        for a, b in zip(self.border_a, self.border_b):
            if abs(prices[a] - prices[b]) <= tol:
                parent[find(a)] = find(b)
        groups = {}
        for i in range(self.n):
            groups.setdefault(find(i), []).append(i)
        return list(groups.values())

    def _degenerate_prices(self, prices, regions, x, lo, hi, d, vtol=1e-6):
        """CBMP where the optimum is degenerate: a price region in which no bid is partly
        activated and every satisfied demand sits at a bound (e.g. demand equal to a
        cumulative bid volume) leaves its dual anywhere in an interval, and a solver may
        return 0 or the price cap. There the CBMP is the price of the marginal activated bid,
        as the dual of a partly activated one would be: the dearest activated upward bid + eps,
        or the cheapest activated downward bid - eps, moved into the interval of prices that
        keeps the optimum optimal. A region that activated nothing, or both directions, keeps
        its dual.

        The interval: every column of the LP touching the region that sits at one of its
        bounds bounds the price (reduced cost of the right sign): an activated upward bid,
        or a downward bid left out, is at or below it; an upward bid left out, or an
        activated downward one, at or above it; upward demand left unserved keeps the price
        at or above that demand's price (P_up), fully served at or below it; downward demand
        likewise with P_down; a border to another region at its limit keeps the importing
        side at or above the exporting side's price. E.g. an upward bid at -1 activated for
        the whole demand, and a downward bid at 2 that no upward volume is left to net: the
        price is 2 - eps, not -1 + eps; an area that imports up to the limit from an area with
        unserved demand is priced at least that area's price, not at its own cheap bid's."""
        n, nb = self.n, self.nb
        act, ub, sb, f = x[:nb], x[nb:nb + n], x[nb + n:nb + 2 * n], x[nb + 2 * n:]
        vol = hi[:nb]                              # this cycle's bid volumes
        f_lo, f_hi = lo[nb + 2 * n:], hi[nb + 2 * n:]
        ea, eb = self.border_a, self.border_b
        out = prices.copy()
        pr, dr = self.bid_price, self.bid_dir
        eps = self.eps
        up_room = np.maximum(d, 0.0)
        dn_room = np.maximum(-d, 0.0)
        for members in regions:
            ii = np.array(members)
            inner = ((ub[ii] > vtol) & (ub[ii] < up_room[ii] - vtol)) | \
                ((sb[ii] > vtol) & (sb[ii] < dn_room[ii] - vtol))
            mine = np.isin(self.bid_area, ii)
            on = mine & (act > vtol)
            if inner.any() or np.any(on & (act < vol - vtol)):
                continue          # a basic demand or bid pins the dual: it is the price
            up, dn = on & (dr > 0), on & (dr < 0)
            if up.any() and not dn.any():
                cand = pr[up].max() + eps
            elif dn.any() and not up.any():
                cand = pr[dn].min() - eps
            else:
                continue
            real = mine & (vol > vtol)
            off = real & (act <= vtol)
            inside = np.zeros(n, bool)
            inside[ii] = True
            moves = f_hi - f_lo > vtol                      # a border that can carry a flow
            at_ab = moves & (f >= f_hi - vtol)               # at its a -> b limit
            at_ba = moves & (f <= f_lo + vtol)               # at its b -> a limit
            a_in, b_in = inside[ea] & ~inside[eb], inside[eb] & ~inside[ea]
            has_up, has_dn = up_room[ii] > vtol, dn_room[ii] > vtol
            lo_p = np.concatenate([
                pr[real & up] + eps, pr[off & (dr < 0)] - eps,
                self.p_up[ii][has_up & (ub[ii] <= vtol)],
                self.p_down[ii][has_dn & (sb[ii] >= dn_room[ii] - vtol)],
                out[eb[a_in & at_ba]], out[ea[b_in & at_ab]]])      # importing at the limit
            hi_p = np.concatenate([
                pr[off & (dr > 0)] + eps, pr[real & dn] - eps,
                self.p_up[ii][has_up & (ub[ii] >= up_room[ii] - vtol)],
                self.p_down[ii][has_dn & (sb[ii] <= vtol)],
                out[eb[a_in & at_ab]], out[ea[b_in & at_ba]]])      # exporting at the limit
            lo_v = lo_p.max() if lo_p.size else -np.inf
            hi_v = hi_p.min() if hi_p.size else np.inf
            if lo_v <= hi_v:      # else (rounding) the solver's dual, which satisfies them all
                out[ii] = min(max(cand, lo_v), hi_v)
        return np.clip(out, self.price_floor, self.price_cap)


def _quiet_highs(highspy):
    """A Highs instance whose constructor banner does not land on our stdout (CLI output)."""
    import os
    import sys
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def _areas_of(demands_kw, bids, borders):
    areas = list(demands_kw)
    areas += [b.area for b in bids]
    for a, b in borders:
        areas += [a, b]
    return list(dict.fromkeys(areas))


def clear(demands_kw, bids, borders, **kw):
    """One-shot activation optimisation.

    demands_kw: area -> aFRR demand kW (+ = upward, area deficit; - = downward)
    bids: iterable of Bid
    borders: (a, b) -> (free capacity a->b kW, free capacity b->a kW), math.inf allowed
    keyword arguments as ActivationOptimiser (price_cap, price_floor, demand_prices, backend).
    """
    bids = list(bids)
    opt = ActivationOptimiser(_areas_of(demands_kw, bids, borders), list(borders), bids, **kw)
    return opt.solve(demands_kw, borders)
