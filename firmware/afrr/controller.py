# The aFRR control step: measurements -> FRCE -> PI with anti-windup -> unit set-point in limits.
#
# Pure and integer-only: no float, no allocation in step(), identical on CPython, the Unix port
# and 32-bit boards. Hardware and time come in from outside (main.py passes dt_ms and tod_ms).
#
# Units and signs, written once (README "Units and signs" repeats them):
#   frequency  f_mhz    absolute, mHz (50 000 = nominal); df = f - 50 000
#   power      *_kw     kW. Set-point p_set_kw: + = UPWARD aFRR (battery discharges, flexible
#                       load reduces consumption); - = downward.
#   ties       ties_kw  kW, export positive; dP = sum(ties) - sched_kw (scheduled net export)
#   ACE/FRCE   ace_kw   dP + K[MW/Hz] * df[mHz]   (1 MW/Hz = 1 kW/mHz; SO GL Art. 143)
#                       ACE > 0 = surplus -> downward aFRR (p_set < 0); ACE < 0 -> upward.
#   PI         u = -(beta * e) - (1/Tr) * integral(e dt)   (TransiEnt SecondaryBalancingController)
#   SoC        soc_x100 0.01 % of usable capacity (0..10 000)
#   baseline   base_kw  kW, + = discharge: the battery's declared schedule for the ISP in force;
#                       p_set = base + aFRR set-point. aFRR energy and limits are on the aFRR part.
#   share      e = FRCE * share_ppm / 10**6: the unit's part of the area's aFRR demand
#   energy     kWs inside (exact, with ms remainders), Wh at the ISP edge
#   time       tod_ms   time of day, UTC, ms (0..86 399 999); ISP = 15 min

from afrr.compat import const, micropython
from afrr.imath import clamp, muldiv

_MODE_OFF = const(0)
_MODE_LOCAL = const(1)
_MODE_REMOTE = const(2)

# Flag bits in Outputs.flags (also published in the register map)
_F_FREQ_INVALID = const(0x0001)  # frequency outside 47 500..52 500 mHz or not an integer
_F_TIE_INVALID = const(0x0002)  # a tie flow or the schedule outside its range
_F_STALE = const(0x0004)  # measurement age above max_age_ms (or not an integer)
_F_SOC_INVALID = const(0x0008)  # battery SoC outside 0..10 000
_F_DT_INVALID = const(0x0010)  # step interval outside 1..60 000 ms
_F_TIME_INVALID = const(0x0020)  # tod_ms outside a day, or a jump: energy not accounted
_F_REMOTE_LOST = const(0x0040)  # remote mode: set-point not refreshed in time
_F_REMOTE_INVALID = const(0x0080)  # remote set-point not an integer in +-100 000 kW
_F_FAILSAFE = const(0x0100)  # fail-safe path active (holding, or ramping to 0)
_F_SAT_HIGH = const(0x0200)  # PI demand above the upward limit
_F_SAT_LOW = const(0x0400)  # PI demand below the downward limit
_F_RAMP = const(0x0800)  # set-point held back by the ramp limit
_F_SOC_LIMIT = const(0x1000)  # SoC / baseline guard narrowed a limit below band and rating
_F_ISP_PARTIAL = const(0x2000)  # current ISP was not observed from its start

_F_MIN_MHZ = const(47500)
_F_MAX_MHZ = const(52500)
_F_NOM_MHZ = const(50000)
_TIE_MAX_KW = const(5000000)  # 5 GW per tie
_SCHED_MAX_KW = const(40000000)  # 40 GW scheduled net exchange
_SP_MAX_KW = const(100000)  # largest remote set-point accepted (= largest rating)
_DT_MAX_MS = const(60000)  # a longer step interval is a fault
_DT_CTRL_MAX_MS = const(4000)  # dynamics integrate at most one 4 s cycle per step
_SOC_FULL = const(10000)
_DAY_MS = const(86400000)
_ISP_MS = const(900000)
_MIN_MS = const(60000)
_N_TIES = const(8)
_N_MINUTES = const(15)
_DT_FAST_MS = const(5000)  # Energy._add: intervals this short need no limb split

_FAULT_LOCAL = const(_F_FREQ_INVALID | _F_TIE_INVALID | _F_STALE | _F_SOC_INVALID
                     | _F_DT_INVALID)
_FAULT_REMOTE = const(_F_STALE | _F_SOC_INVALID | _F_DT_INVALID | _F_REMOTE_LOST
                      | _F_REMOTE_INVALID)

# The public names of the constants above, for the host and the tests (the firmware uses the
# private ones). An optimised build (mpy-cross -O3, tools/build_firmware.py) compiles
# `__debug__` as False and leaves this block out: a board keeps no name and no module slot
# for them. CPython and the sources on the Unix port run it.
if __debug__:
    MODE_OFF = _MODE_OFF
    MODE_LOCAL = _MODE_LOCAL
    MODE_REMOTE = _MODE_REMOTE
    F_FREQ_INVALID = _F_FREQ_INVALID
    F_TIE_INVALID = _F_TIE_INVALID
    F_STALE = _F_STALE
    F_SOC_INVALID = _F_SOC_INVALID
    F_DT_INVALID = _F_DT_INVALID
    F_TIME_INVALID = _F_TIME_INVALID
    F_REMOTE_LOST = _F_REMOTE_LOST
    F_REMOTE_INVALID = _F_REMOTE_INVALID
    F_FAILSAFE = _F_FAILSAFE
    F_SAT_HIGH = _F_SAT_HIGH
    F_SAT_LOW = _F_SAT_LOW
    F_RAMP = _F_RAMP
    F_SOC_LIMIT = _F_SOC_LIMIT
    F_ISP_PARTIAL = _F_ISP_PARTIAL
    F_MIN_MHZ = _F_MIN_MHZ
    F_MAX_MHZ = _F_MAX_MHZ
    F_NOM_MHZ = _F_NOM_MHZ
    TIE_MAX_KW = _TIE_MAX_KW
    SCHED_MAX_KW = _SCHED_MAX_KW
    SP_MAX_KW = _SP_MAX_KW
    DT_MAX_MS = _DT_MAX_MS
    DT_CTRL_MAX_MS = _DT_CTRL_MAX_MS
    SOC_FULL = _SOC_FULL
    DAY_MS = _DAY_MS
    ISP_MS = _ISP_MS
    MIN_MS = _MIN_MS
    N_TIES = _N_TIES
    N_MINUTES = _N_MINUTES


def _int_in(v, lo, hi):
    return type(v) is int and lo <= v <= hi


class Measurements:
    """One sample of inputs; preallocated once and filled in place."""

    def __init__(self):
        self.f_mhz = _F_NOM_MHZ  # mHz, absolute
        self.ties_kw = [0] * _N_TIES  # kW, export +
        self.sched_kw = 0  # kW, scheduled net export
        self.age_ms = 0  # ms since the sample was taken
        self.soc_x100 = 5000  # 0.01 %
        self.p_meas_kw = 0  # kW, measured unit power, + = discharge (informative)
        self.remote_sp_kw = 0  # kW, TSO aFRR set-point for remote mode
        self.remote_seq = 0  # bumped by whoever writes a new remote set-point
        self.tod_ms = 0  # ms, UTC time of day at the end of this step


class Outputs:
    def __init__(self):
        self.p_set_kw = 0  # kW, + = upward; the unit set-point in force
        self.ace_kw = 0  # kW, raw ACE (0 while inputs invalid)
        self.frce_kw = 0  # kW, after low-pass and deadband: the PI's input
        self.p_pi_kw = 0  # kW, unlimited PI demand (or remote target)
        self.base_kw = 0  # kW, + = discharge; baseline in force for the running ISP
        self.base_next_kw = 0  # kW, baseline declared for the next ISP
        self.lim_up_kw = 0  # kW, upward limit in force (band, rating, SoC/baseline)
        self.lim_down_kw = 0  # kW, downward limit in force, as a positive number
        self.integ_kw = 0  # kW, integrator state
        self.flags = 0  # F_* bits
        self.mode = _MODE_OFF
        self.fault_cycles = 0  # consecutive cycles on the fail-safe path
        self.steps = 0  # steps run since start (wraps at 2**30)


class Energy:
    """Activated energy per 15-min ISP, and per-minute averages over the elapsed ISP (Elia shape).

    Energy is the set-point held over each interval of tod_ms: upward (p > 0) and downward
    (p < 0) separately, in kWs with exact ms remainders. A row per completed minute m holds the
    average aFRR+ / aFRR- (kW) and ACE (MW) from the ISP start to the end of minute m.
    """

    def __init__(self):
        self.isp = -1  # ISP index in the day 0..95; -1 = none yet
        self.last_tod = -1  # ms; -1 = none yet
        # acc: [up_kws, up_rem, down_kws, down_rem, ace_mws, ace_rem, ace_kw_rem]
        self.acc = [0] * 7
        self.prev_isp = -1
        self.prev_up_wh = 0
        self.prev_down_wh = 0
        self.partial = False
        self.n_rows = 0
        self.row_up_kw = [0] * _N_MINUTES
        self.row_down_kw = [0] * _N_MINUTES
        self.row_ace_mw = [0] * _N_MINUTES

    @property
    def up_kws(self):
        return self.acc[0]

    @property
    def down_kws(self):
        return self.acc[2]

    @micropython.native
    def _add(self, p_kw, ace_kw, dt_ms):
        # exact integral of p (kW) and ACE (MW) over dt (ms, <= 60 000): acc[i] * 1000 +
        # acc[i + 1] is the running sum of p * dt, kept as whole kWs and a ms remainder
        a = self.acc
        if p_kw > 0:
            i = 0
            v = p_kw
        else:
            i = 2
            v = -p_kw
        # ACE in MW: keep the kW remainder so the MW floor does not bias the average
        k = a[6] + ace_kw
        mw = k // 1000
        a[6] = k - mw * 1000
        if dt_ms <= _DT_FAST_MS:
            # one product each: |p| * dt <= 100 000 * 5 000 and |MW| * dt <= 205 000 * 5 000
            # stay below 2**30 (|ACE| <= 2.05e8 kW: 8 ties, schedule and K * df at their limits)
            r = a[i + 1] + v * dt_ms
            a[i] += r // 1000
            a[i + 1] = r % 1000
            r = a[5] + mw * dt_ms
            a[4] += r // 1000
            a[5] = r % 1000
            return
        # longer intervals: split each product into limbs, every product < 2**27
        r = a[i + 1] + (v % 1000) * dt_ms
        a[i] += (v // 1000) * dt_ms + r // 1000
        a[i + 1] = r % 1000
        r = a[5] + (mw % 1000) * dt_ms
        a[4] += (mw // 1000) * dt_ms + r // 1000
        a[5] = r % 1000

    @micropython.native
    def _rows_to(self, minute, elapsed_ms):
        s = elapsed_ms // 1000
        if s <= 0:
            return
        a = self.acc
        while self.n_rows < minute and self.n_rows < _N_MINUTES:
            j = self.n_rows
            self.row_up_kw[j] = a[0] // s
            self.row_down_kw[j] = a[2] // s
            self.row_ace_mw[j] = a[4] // s
            self.n_rows = j + 1

    def _new_isp(self, isp, partial):
        a = self.acc
        if self.isp >= 0:
            self._rows_to(_N_MINUTES, _ISP_MS)
            self.prev_isp = self.isp
            self.prev_up_wh = a[0] * 5 // 18  # 1 Wh = 3.6 kWs
            self.prev_down_wh = a[2] * 5 // 18
        for k in range(7):
            a[k] = 0
        self.n_rows = 0
        self.isp = isp
        self.partial = partial

    @micropython.native
    def account(self, tod_ms, p_kw, ace_kw):
        """Account the interval (last tod, tod] at set-point p_kw. Returns False on a time fault."""
        if type(tod_ms) is not int or not 0 <= tod_ms < _DAY_MS:
            return False
        last = self.last_tod
        self.last_tod = tod_ms
        isp = tod_ms // _ISP_MS
        if last < 0:
            self._new_isp(isp, tod_ms % _ISP_MS != 0)
            return True
        dt = tod_ms - last
        if dt < 0:
            dt += _DAY_MS  # midnight
        if dt == 0:
            return True
        if dt > _DT_MAX_MS:
            self._new_isp(isp, True)  # a gap: start afresh, the gap is not invented
            return False
        pos = tod_ms - isp * _ISP_MS
        if isp != self.isp:
            before = dt - pos  # part of the interval in the old ISP
            if before > 0:
                self._add(p_kw, ace_kw, before)
            self._new_isp(isp, False)
            dt = pos
        if dt > 0:
            self._add(p_kw, ace_kw, dt)
        if self.n_rows < pos // _MIN_MS:
            self._rows_to(pos // _MIN_MS, pos)
        return True


class Controller:
    """step(meas, dt_ms) -> Outputs. Construct with a validated Config."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.meas = Measurements()
        self.out = Outputs()
        self.energy = Energy()
        self.mode = _MODE_OFF
        self._integ = 0  # kW, integrator, + = upward
        self._irem = 0  # integrator remainder, in units of 1/(ti_s*1000) kW
        self._lpf = 0  # kW, low-passed ACE
        self._lpf_ok = False  # low-pass initialised
        self._restart = True  # next local step re-initialises the integrator bumplessly
        self._seq_seen = 0  # last remote_seq seen
        self._sp_kw = 0  # kW, latched remote set-point
        self._sp_age = 0  # cycles since the remote set-point was refreshed
        self._fault = 0  # consecutive fail-safe cycles
        self._lim_soc_up = 0  # kW, SoC guard from the last valid SoC (none yet: no headroom)
        self._lim_soc_down = 0
        self._soc_seen = -1  # SoC the guard above was worked out for (-1: none / config changed)
        self._ramp_dt = 0  # ms: the step interval _ramp_kw was worked out for (0: none)
        self._ramp_kw = 0  # kW: largest set-point move in _ramp_dt

    # ---- commands -------------------------------------------------------------------------
    def set_mode(self, mode):
        """Switch mode bumplessly; returns False (mode unchanged) for an unknown mode."""
        if mode not in (_MODE_OFF, _MODE_LOCAL, _MODE_REMOTE):
            return False
        if mode != self.mode:
            self.mode = mode
            self._restart = True
            self._fault = 0
            if mode == _MODE_REMOTE:
                # Until the TSO sends a value, hold the present set-point (loss rule applies).
                self._seq_seen = self.meas.remote_seq
                self._sp_kw = self.out.p_set_kw - self.out.base_kw
                self._sp_age = 0
        return True

    def config_changed(self):
        """Call after a validated config change: restarts filters bumplessly."""
        self._restart = True
        self._lpf_ok = False
        self._soc_seen = -1
        self._ramp_dt = 0

    # ---- limits -----------------------------------------------------------------------------
    @micropython.native
    def _soc_limits(self, soc):
        """Upward/downward kW the battery may be set to without leaving its SoC window.

        Horizon = one cycle + fat_s: the set-point may be held for a cycle, and from any
        power p <= band the activation ramp (band/FAT) needs at most FAT to bring it back to 0.
        p_max = headroom * efficiency / horizon, so a unit discharging (or charging) at its
        limit sees the limit fall no faster than band/FAT: the guard does not force jumps.
        """
        c = self.cfg
        h = c.cycle_ms + c.fat_s * 1000  # ms
        head = soc - c.soc_min_x100
        if head <= 0:
            up = 0
        else:
            kj = (head * c.cap_kwh // 100) * 36  # 0.01 % * kWh -> kJ, floored (safe side)
            up = muldiv(kj, c.eta_dis_pm, h)  # kJ * eta / s
        head = c.soc_max_x100 - soc - 1  # the SoC reading is floored: it may be 1 unit low
        if head <= 0:
            down = 0
        else:
            kj = (head * c.cap_kwh // 100) * 36
            down = muldiv(kj, 1000, h)
            down = _SP_MAX_KW if down >= _SP_MAX_KW else down * 1000 // c.eta_ch_pm
        self._lim_soc_up = up
        self._lim_soc_down = down

    def _baseline(self, tod, soc):
        """At the first step of an ISP (step() calls it only then): put the declared baseline in
        force, declare the next.

        The baseline of ISP k+1 is declared during ISP k, from the SoC at the start of ISP k
        and what the baseline of ISP k will move over it (b kW for 15 min shifts the SoC by
        b * 2500 / cap_kwh in 0.01 %). The target window is the middle quarter of the SoC
        window [soc_min, soc_max]. Outside it the baseline is the power that would bring that
        predicted SoC to the window's middle within one ISP (dev * cap_kwh / 2500 kW), bounded
        by the room the band leaves of the rating (rating - band_up discharging, rating -
        band_down charging); inside it, 0. An ISP not declared for (after a gap) runs at
        baseline 0; inside an ISP nothing changes it.
        """
        c = self.cfg
        o = self.out
        isp = tod // _ISP_MS
        last = self.energy.isp + 1  # the ISP after the previous step's (accounted at its end)
        o.base_kw = o.base_next_kw if last == isp or (last == 96 and isp == 0) else 0
        soc -= muldiv(o.base_kw, 2500, c.cap_kwh)
        lo = c.soc_min_x100
        w = (c.soc_max_x100 - lo) >> 3  # the target window: the middle quarter of the SoC window
        soc -= lo + 4 * w  # deviation from the window's middle
        o.base_next_kw = clamp(muldiv(soc, c.cap_kwh, 2500), c.band_down_kw - c.rating_kw,
                               c.rating_kw - c.band_up_kw) if soc > w or soc < -w else 0

    # ---- the step ---------------------------------------------------------------------------
    @micropython.native
    def step(self, m, dt_ms):
        c = self.cfg
        o = self.out
        tp = type  # the builtins, looked up once per step (each use would search two dicts)
        int_ = int
        flags = 0
        mode = self.mode
        p_prev = o.p_set_kw - o.base_kw  # aFRR part in force (before the ISP edge moves base)

        if tp(dt_ms) is int_ and 1 <= dt_ms <= _DT_MAX_MS:
            dt = dt_ms if dt_ms < _DT_CTRL_MAX_MS else _DT_CTRL_MAX_MS
        else:
            flags |= _F_DT_INVALID
            dt = 0

        # -- measurements and ACE
        f = m.f_mhz
        if tp(f) is not int_ or not _F_MIN_MHZ <= f <= _F_MAX_MHZ:
            flags |= _F_FREQ_INVALID
            df = 0
        else:
            df = f - _F_NOM_MHZ
        dp = 0
        if c.frce_mode == 0:
            ties = m.ties_kw
            n = c.n_ties
            if tp(ties) is not list or len(ties) < n:
                flags |= _F_TIE_INVALID
            else:
                for i in range(n):
                    t = ties[i]
                    if tp(t) is int_ and -_TIE_MAX_KW <= t <= _TIE_MAX_KW:
                        dp += t
                    else:
                        flags |= _F_TIE_INVALID
            s = m.sched_kw
            if tp(s) is int_ and -_SCHED_MAX_KW <= s <= _SCHED_MAX_KW:
                dp -= s
            else:
                flags |= _F_TIE_INVALID
        a = m.age_ms
        if tp(a) is not int_ or not 0 <= a <= c.max_age_ms:
            flags |= _F_STALE
        ace_ok = not (flags & (_F_FREQ_INVALID | _F_TIE_INVALID))
        ace = dp + c.k_mw_hz * df if ace_ok else 0

        # -- filter and deadband (only on good input; the filter restarts after a fault)
        frce = 0
        if ace_ok and dt:
            if c.lpf_tau_ms and self._lpf_ok:
                self._lpf += muldiv(ace - self._lpf, dt, c.lpf_tau_ms + dt)
            else:
                self._lpf = ace
                self._lpf_ok = True
            frce = self._lpf
            db = c.deadband_kw
            if frce > db:
                frce -= db
            elif frce < -db:
                frce += db
            else:
                frce = 0
        elif not ace_ok:
            self._lpf_ok = False
        # the unit's share of the area's FRCE, rounded toward 0 (no bias from the floor)
        # (imath.mul_ppm on |frce|, inline: a = 1000 q + r, q = 1000 q2 + r2, every product
        # < 2**30; tests/firmware check it equals mul_ppm)
        s = c.share_ppm
        a = frce if frce >= 0 else -frce
        q = a // 1000
        r = a - q * 1000
        q2 = q // 1000
        r2 = (q - q2 * 1000) * s
        e = q2 * s + r2 // 1000 + ((r2 % 1000) * 1000 + r * s) // 1000000
        if frce < 0:
            e = -e

        # -- limits in force (on the aFRR part): band, rating, then SoC (battery, on baseline +
        #    aFRR) or baseline (flexible load)
        up = c.band_up_kw
        down = c.band_down_kw
        base = 0
        if c.unit_type == 0:
            soc = m.soc_x100
            if tp(soc) is int_ and 0 <= soc <= _SOC_FULL:
                if soc != self._soc_seen:  # SoC moves slowly: most steps reuse the guard
                    self._soc_limits(soc)
                    self._soc_seen = soc
                tod = m.tod_ms
                # the baseline moves only at an ISP edge (the check inline: one call per ISP)
                if tp(tod) is int_ and 0 <= tod < _DAY_MS and tod // _ISP_MS != self.energy.isp:
                    self._baseline(tod, soc)
            else:
                # SoC unknown: keep the guard of the last valid reading; the fault path holds,
                # then ramps to 0.
                flags |= _F_SOC_INVALID
            base = self.out.base_kw
            h = self._lim_soc_up - base  # aFRR headroom the SoC guard leaves above the baseline
            if h < up:
                up = h
                flags |= _F_SOC_LIMIT
            h = self._lim_soc_down + base
            if h < down:
                down = h
                flags |= _F_SOC_LIMIT
            if up < -down:  # the baseline itself is beyond the guard: the guard wins
                if down < 0:
                    up = -down
                else:
                    down = -up
        else:
            h = c.base_kw - c.load_min_kw  # upward = shed load down to its minimum
            if h < up:
                up = h
                flags |= _F_SOC_LIMIT
            h = c.load_max_kw - c.base_kw
            if h < down:
                down = h
                flags |= _F_SOC_LIMIT

        # -- remote set-point freshness (counted in cycles = steps)
        if m.remote_seq != self._seq_seen:
            self._seq_seen = m.remote_seq
            sp = m.remote_sp_kw
            if _int_in(sp, -_SP_MAX_KW, _SP_MAX_KW):
                self._sp_kw = sp
                self._sp_age = 0
            else:
                flags |= _F_REMOTE_INVALID
        elif self._sp_age < 1000:
            self._sp_age += 1
        if mode == _MODE_REMOTE and self._sp_age >= c.remote_timeout_cycles:
            flags |= _F_REMOTE_LOST

        # -- target (aFRR part)
        pi = 0
        fault = False
        if mode == _MODE_LOCAL:
            fault = (flags & _FAULT_LOCAL) != 0
        elif mode == _MODE_REMOTE:
            fault = (flags & _FAULT_REMOTE) != 0
        if fault:
            self._fault += 1 if self._fault < 1000000 else 0
            self._restart = True
            flags |= _F_FAILSAFE
            target = p_prev if self._fault <= c.hold_cycles else 0
            pi = target
        else:
            self._fault = 0
            if mode == _MODE_LOCAL:
                kp = c.kp_q15
                p_term = (e >> 15) * kp + (((e & 0x7FFF) * kp) >> 15)  # imath.mul_q15, inline
                if self._restart:
                    # restart from the present set-point: the integral takes it over, and the
                    # ramp limit below keeps the set-point itself free of any bump
                    self._integ = clamp(p_prev, -down, up)
                    self._irem = 0
                    self._restart = False
                pi = self._integ - p_term
                target = pi
            elif mode == _MODE_REMOTE:
                pi = self._sp_kw
                target = pi
            else:
                target = 0
        if target > up:
            target = up
            flags |= _F_SAT_HIGH if mode == _MODE_LOCAL and not fault else 0
        elif target < -down:
            target = -down
            flags |= _F_SAT_LOW if mode == _MODE_LOCAL and not fault else 0

        # -- ramp: full band within fat_s, never faster than the unit's own ramp
        # (a step with an invalid dt still counts as one cycle, so the fail-safe ramp completes)
        dt_r = dt if dt else c.cycle_ms
        if dt_r == self._ramp_dt:  # the same interval as last step: the same limit
            rmax = self._ramp_kw
        else:
            band = c.band_up_kw if c.band_up_kw > c.band_down_kw else c.band_down_kw
            fat_ms = c.fat_s * 1000
            rmax = (band * dt_r + fat_ms - 1) // fat_ms
            r_unit = c.unit_ramp_kw_s * dt_r // 1000
            if r_unit < rmax:
                rmax = r_unit
            self._ramp_dt = dt_r
            self._ramp_kw = rmax
        p = target
        if p > p_prev + rmax:
            p = p_prev + rmax
            flags |= _F_RAMP
        elif p < p_prev - rmax:
            p = p_prev - rmax
            flags |= _F_RAMP
        # the position limits win over the ramp: a SoC limit is never crossed to keep a ramp
        if p > up:
            p = up
        elif p < -down:
            p = -down

        # -- anti-windup by integrator clamping: the integral is exact (ms remainders kept),
        #    and clamped to the limits in force, so it can never run away while the output
        #    is saturated, and leaves saturation as soon as the FRCE changes sign.
        if mode == _MODE_LOCAL and not fault and c.ti_s and dt:
            ti_ms = c.ti_s * 1000
            q = e // ti_ms
            acc = self._irem + (e - q * ti_ms) * dt
            carry = acc // ti_ms
            self._irem = acc - carry * ti_ms
            i_new = self._integ - (q * dt + carry)  # minus: u = -(1/Tr) * integral(e dt)
            if i_new > up:
                i_new = up
                self._irem = 0
            elif i_new < -down:
                i_new = -down
                self._irem = 0
            self._integ = i_new

        # -- energy of the interval that just ended, at the set-point that was held over it
        if not self.energy.account(m.tod_ms, p_prev, ace):  # aFRR energy: minus the baseline
            flags |= _F_TIME_INVALID
        if self.energy.partial:
            flags |= _F_ISP_PARTIAL

        o.p_set_kw = base + p
        o.ace_kw = ace
        o.frce_kw = frce
        o.p_pi_kw = pi
        o.lim_up_kw = up
        o.lim_down_kw = down
        o.integ_kw = self._integ
        o.flags = flags
        o.mode = mode
        o.fault_cycles = self._fault
        o.steps = (o.steps + 1) & 0x3FFFFFFF
        return o

    # ---- persistence --------------------------------------------------------------------------
    STATE_VERSION = 2

    def state_words(self, w=None):
        """Controller state as 21 ints (for persist.py): into the list w (the state saver's own,
        so that a save on a fragmented heap makes no list) or a new list; returns it."""
        if w is None:
            w = [0] * 21
        en = self.energy
        o = self.out
        w[0] = self.STATE_VERSION
        w[1] = self.mode
        w[2] = o.p_set_kw - o.base_kw  # the aFRR part of the set-point; the baseline is word 19
        w[3] = self._integ
        w[4] = self._irem
        w[5] = self._sp_kw
        w[6] = en.isp
        w[7] = en.last_tod
        w[8] = en.prev_isp
        w[9] = en.prev_up_wh
        w[10] = en.prev_down_wh
        w[11] = 1 if en.partial else 0
        for i in range(7):  # words 12..18: the energy accumulators (Energy.acc)
            w[12 + i] = en.acc[i]
        w[19] = o.base_kw
        w[20] = o.base_next_kw
        return w

    def restore(self, words):
        """Restore from state_words(); returns False (state unchanged) if the words do not fit."""
        if type(words) is not list or len(words) != 21 or words[0] != self.STATE_VERSION:
            return False
        for w in words:
            if not _int_in(w, -(1 << 30), (1 << 30) - 1):
                return False
        c = self.cfg
        if words[1] not in (_MODE_OFF, _MODE_LOCAL, _MODE_REMOTE):
            return False
        # set-point and integrator stay inside the band (the step never leaves it); the
        # latched remote set-point is any value the step accepts (it is limited when used)
        up, down = c.band_up_kw, -c.band_down_kw
        if not (_int_in(words[2], down, up) and _int_in(words[3], down, up)
                and _int_in(words[5], -_SP_MAX_KW, _SP_MAX_KW)):
            return False
        # energy words: the ISP is the one of the last time of day (-1 with -1: none yet);
        # Wh of the previous ISP and kWs of this one at most _SP_MAX_KW over 15 min; the
        # remainders in 0..999; the ACE integral (words[16]) may be any word
        if not (_int_in(words[7], -1, _DAY_MS - 1) and words[6] == words[7] // _ISP_MS
                and _int_in(words[8], -1, _DAY_MS // _ISP_MS - 1) and words[11] in (0, 1)):
            return False
        wh = _SP_MAX_KW * 250
        for i, hi in ((9, wh), (10, wh), (12, wh * 18 // 5), (14, wh * 18 // 5), (13, 999),
                      (15, 999), (17, 999), (18, 999)):
            if not _int_in(words[i], 0, hi):
                return False
        self.mode = words[1]
        self.out.p_set_kw = words[2]
        self._integ = words[3]
        self._irem = words[4] if _int_in(words[4], 0, c.ti_s * 1000) else 0
        self._sp_kw = words[5]
        en = self.energy
        en.isp, en.last_tod, en.prev_isp = words[6], words[7], words[8]
        en.prev_up_wh, en.prev_down_wh, en.partial = words[9], words[10], words[11] != 0
        for k in range(7):
            en.acc[k] = words[12 + k]
        # the baseline in force and the one declared stay valid across a restart (the TSO has
        # them); bounded by the room the band leaves of the rating
        o = self.out
        lim = c.rating_kw
        o.base_kw = clamp(words[19], c.band_down_kw - lim, lim - c.band_up_kw)
        o.base_next_kw = clamp(words[20], c.band_down_kw - lim, lim - c.band_up_kw)
        o.p_set_kw = words[2] + o.base_kw
        self._restart = True
        self._seq_seen = self.meas.remote_seq
        self._sp_age = 0
        return True
