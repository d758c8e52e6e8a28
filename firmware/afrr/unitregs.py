# The register bank of the unit: binds regmap.py to a Controller; the `bank` that modbus.RTU serves.
#
# Pure (no I/O, no clock): lock-step time comes in through the sim_time_ms register, real time
# through `tick(dt_ms)` called by app.serve(). Reads and writes allocate nothing.
# In lock-step, tick() is also the silent-rig step: when the rig has written no new time for a
# while, app.serve() steps on its own clock and the lock-step inputs count as stale at once.
from afrr.compat import const, micropython

try:
    from afrr.compat import ptr8  # CPython: viper's cast as the identity
except ImportError:  # MicroPython: the compiler makes it a cast
    pass
from afrr.config import NAMES, ConfigError
from afrr.regmap import bank_columns  # start-only (see below): unbound once used

_FC_READ_INPUT = const(4)
# Modbus exception codes (afrr.modbus EX_*; constants here, so the module keeps no globals)
_EX_REFUSED = const(1)  # illegal function; here: refused by the write protection
_EX_ADDRESS = const(2)
_EX_VALUE = const(3)
_AUTH_BASE = const(0x0200)  # afrr.auth.AUTH_BASE, AUTH_COUNT
_AUTH_COUNT = const(14)
_ST_KEYED = const(0x0010)  # status bit (regmap.py)
_T_AUTH = const(99)  # _guard(): the authenticated command block
# regmap's numbers, as constants here: the module holds no reference to regmap (start-only, see
# bank_columns below), and the per-transaction code looks up no module attribute
# (tests/firmware/test_regmap.py keeps them equal)
_S32 = const(1)
_T_MEAS = const(0)
_T_TIE = const(1)
_T_MODE = const(2)
_T_SP = const(3)
_T_TIME = const(4)
_T_UNIT = const(5)
_T_CFG = const(6)
_S_OUT = const(0)
_S_ENERGY = const(1)
_S_LINK = const(2)
_HOLD_COUNT = const(0x1F)
_INPUT_COUNT = const(0x35)
_MIRROR_BASE = const(0x80)
_CFG_BASE = const(0x100)
_CFG_COUNT = const(52)  # 2 * config.N_FIELDS
_ST_STALE = const(0x0001)
_ST_REALTIME = const(0x0002)
_ST_CFG_DIRTY = const(0x0004)
_VERSION = const(0x0102)
_TIE_FIELD = const(2)  # index of tie_kw_0 in regmap.HOLDING (tie_kw_k at _TIE_FIELD + k)
_AGE_FIELD = const(12)  # index of age_ms
_TOD_FIELD = const(14)  # index of tod_ms
_SCRATCH = const(128)  # _read_input(): where a partial read puts the whole input table in tx


# regmap's tables as compact columns (regmap.bank_columns): holding fields' name, kind, write
# target, [2i] lo and [2i + 1] hi; the map from holding address to field; input fields' name,
# kind, source. regmap itself is start-only: the app drops it once its readers are built.
_HNAME, _HKIND, _HTARGET, _HLIM, _HMAP, _INAME, _IKIND, _ISOURCE = bank_columns()
del bank_columns


@micropython.viper
def _put_be(tx, q: int, v: int, s32: bool) -> int:
    """v big-endian at tx[q:]: 4 bytes (high word first) if s32, else its low 2; returns the
    position after them. Viper: a third of the time of the byte stores in bytecode."""
    b = ptr8(tx)
    if s32:
        b[q] = (v >> 24) & 0xFF
        b[q + 1] = (v >> 16) & 0xFF
        q += 2
    b[q] = (v >> 8) & 0xFF
    b[q + 1] = v & 0xFF
    return q + 2


def _s32_at(buf, p):
    """The S32 in the two big-endian registers at buf[p:p + 4]; None outside +-2**30 (never a
    valid value, and not a small int on a 32-bit board)."""
    hi = (buf[p] << 8) | buf[p + 1]
    if 0x4000 <= hi < 0xC000:
        return None
    return (((hi - 0x10000) if hi & 0x8000 else hi) << 16) | (buf[p + 2] << 8) | buf[p + 3]


class UnitRegisters:
    """Holding/input register space of one unit (see regmap.py for the table)."""

    # class attributes: an instance keeps them out of its own attribute table (heap)
    fw_version = _VERSION
    _hmap = _HMAP  # holding register address -> field index and word in it (afrr.auth reads it)
    # write protection (regmap.py): None = the open bench profile (no lock; tests, the Unix port
    # without a key); an afrr.auth.Auth = locked, keyed or not (a board always has one)
    auth = None

    def __init__(self, ctl, cfg, unit_id=1, lockstep=True, auth=None):
        self.ctl = ctl
        self.cfg = cfg
        self.rtu = None  # the modbus.RTU serving this bank (link counters); set by main
        self.before_step = None  # callable run just before every control step (on-board
        # frequency measurement fills ctl.meas.f_mhz), or None
        self.after_step = None  # callable run after every completed control step (watchdog,
        # state saving), or None
        self.unit_id = unit_id
        self.lockstep = lockstep
        self.sim_time_ms = 0  # ms, simulated time of the last step
        self.steps = 0  # steps run by this server
        self.silent_steps = 0  # lock-step: steps run on the firmware's own clock (silent rig)
        self.remote_seq = 0
        self.status = 0 if lockstep else _ST_REALTIME
        if auth is not None:
            self.auth = auth
            if auth.key is not None:
                self.status |= _ST_KEYED
        self.auth_rejects = 0  # writes refused by the write protection
        self.since_write_ms = 0  # real time: ms since the last measurement write
        n = len(_HNAME)
        self._hval = [0] * n  # last written (valid) value per holding field
        self._stage = [0] * n  # values of a write being checked
        self._cfg_old = [0] * len(NAMES)
        m = ctl.meas
        for i in range(n):
            target = _HTARGET[i]
            if target == _T_MEAS:
                v = getattr(m, _HNAME[i])
            elif target == _T_TIE:
                v = m.ties_kw[i - _TIE_FIELD]
            elif target == _T_MODE:
                v = ctl.mode
            elif target == _T_SP:
                v = m.remote_sp_kw
            elif target == _T_UNIT:
                v = unit_id
            else:
                v = 0
            self._hval[i] = v
        self.written_age_ms = m.age_ms  # the age_ms register as last written
        self.written_tod_ms = m.tod_ms  # ms, the tod_ms register as last written

    # -- bank interface (modbus.RTU) ----------------------------------------------------------
    def read(self, table, addr, count, tx, pos):
        end = addr + count
        if table == _FC_READ_INPUT:
            if end > _INPUT_COUNT:
                return _EX_ADDRESS
            return self._read_input(addr, count, tx, pos)
        if end <= _HOLD_COUNT:
            if tx is None:
                return 0
            hmap = _HMAP
            hval = self._hval
            for a in range(addr, end):
                i = hmap[a]
                v = hval[i]
                if _HKIND[i] == _S32 and not hmap[_HOLD_COUNT + a]:
                    v >>= 16  # the high word
                pos = _put_be(tx, pos, v, False)
            return 0
        if addr >= _MIRROR_BASE and end <= _MIRROR_BASE + _INPUT_COUNT:
            return self._read_input(addr - _MIRROR_BASE, count, tx, pos)
        if addr >= _CFG_BASE and end <= _CFG_BASE + _CFG_COUNT:
            if tx is None:
                return 0
            for a in range(addr - _CFG_BASE, end - _CFG_BASE):
                v = getattr(self.cfg, NAMES[a >> 1])
                pos = _put_be(tx, pos, v if a & 1 else v >> 16, False)
            return 0
        return _EX_ADDRESS

    def _read_input(self, addr, count, tx, pos):
        """Input registers addr..addr+count-1 into tx[pos:]. The lock-step reply reads them all:
        one pass over the fields, each value read once (the fields cover the table without a
        gap: regmap tests). Part of the table: all of it at tx[_SCRATCH:], then the part moved
        to pos (tx has room: a reply of the whole table ends before _SCRATCH)."""
        if tx is None:
            return 0
        part = addr or count != _INPUT_COUNT
        q = _SCRATCH if part else pos
        out = self.ctl.out
        en = self.ctl.energy
        rtu = self.rtu
        kinds = _IKIND
        sources = _ISOURCE
        i = 0
        for name in _INAME:
            src = sources[i]
            if src == _S_OUT:
                v = getattr(out, name)
            elif src == _S_ENERGY:
                v = getattr(en, name)
            elif src == _S_LINK:
                v = getattr(rtu, name) if rtu is not None else 0
            else:
                v = getattr(self, name)
            q = _put_be(tx, q, v, kinds[i])  # (S32 is 1, U16 0)
            i += 1
        if part:
            q = _SCRATCH + 2 * addr
            for i in range(2 * count):
                tx[pos + i] = tx[q + i]
        return 0

    def write(self, addr, count, buf, pos):
        end = addr + count
        if end <= _HOLD_COUNT:
            return self._write_hold(addr, end, buf, pos)
        if addr >= _CFG_BASE and end <= _CFG_BASE + _CFG_COUNT:
            return self._guard(_T_CFG, 0) or self._write_cfg(addr - _CFG_BASE, end - _CFG_BASE,
                                                              buf, pos)
        if addr == _AUTH_BASE and count == _AUTH_COUNT:  # an authenticated command
            # (afrr.auth applies it; it allocates (hashlib), but only here)
            return self._guard(_T_AUTH, 0) or self.auth.command(self, buf, pos)
        return _EX_ADDRESS

    # -- write protection ---------------------------------------------------------------------
    def _guard(self, t, v):
        """0, or exception 01 (counted) when a write of v to a field of target t is refused."""
        a = self.auth
        bc = self.rtu is not None and self.rtu.bcast  # the request is a broadcast
        if t == _T_SP:  # with a key, set-points come only as commands
            bad = a is not None
        elif t == _T_TIME:  # time only in lock-step, never moved by a broadcast
            bad = not self.lockstep or (bc and v != self.sim_time_ms)
        elif t == _T_AUTH:  # a command: never broadcast, and only with an Auth
            bad = bc or a is None
        else:  # config, and a change of mode or unit id (the value in force passes): only
            # addressed to the unit and, with an Auth, while an unlock is in force
            bad = (bc or (a is not None and not a.unlock_ms)) and (
                t == _T_CFG or v != (self.ctl.mode if t == _T_MODE else self.unit_id))
        if bad:
            self.auth_rejects += 1
            return _EX_REFUSED
        return 0

    def _write_hold(self, addr, end, buf, pos):
        hmap = _HMAP
        # whole fields only: the fields cover the block without a gap (regmap tests), so the
        # range must start at a field's first word and end before one's (or at the block's end)
        if hmap[_HOLD_COUNT + addr] or (end < _HOLD_COUNT and hmap[_HOLD_COUNT + end]):
            return _EX_ADDRESS
        # pass 2: decode and range-check into the stage
        stage = self._stage
        i0 = i = hmap[addr]
        a = addr
        p = pos
        kinds = _HKIND
        lim = _HLIM
        targets = _HTARGET
        while a < end:
            if kinds[i] == _S32:
                v = _s32_at(buf, p)
                if v is None:
                    return _EX_VALUE
                p += 4
                a += 2
            else:
                v = (buf[p] << 8) | buf[p + 1]
                p += 2
                a += 1
            if v < lim[2 * i] or v > lim[2 * i + 1]:
                return _EX_VALUE
            t = targets[i]
            if t >= _T_MODE and self._guard(t, v):  # (mode, set-point, time, unit id)
                return _EX_REFUSED
            stage[i] = v
            i += 1
        # pass 3: apply; the simulated time (the step trigger) last
        m = self.ctl.meas
        hval = self._hval
        step_dt = 0
        step = False
        for i in range(i0, i):
            v = stage[i]
            t = targets[i]
            hval[i] = v
            if t == _T_MEAS:
                setattr(m, _HNAME[i], v)
                if i == _AGE_FIELD:
                    self.written_age_ms = v
                elif i == _TOD_FIELD:
                    self.written_tod_ms = v
                self.since_write_ms = 0
            elif t == _T_TIE:
                m.ties_kw[i - _TIE_FIELD] = v
            elif t == _T_SP:
                m.remote_sp_kw = v
                m.remote_seq += 1
                self.remote_seq += 1
            elif t == _T_MODE:
                self.ctl.set_mode(v)
            elif t == _T_UNIT:
                self.unit_id = v
            elif t == _T_TIME:
                if self.lockstep and v != self.sim_time_ms:
                    step = True
                    step_dt = v - self.sim_time_ms
                    self.sim_time_ms = v
        if step:
            self.status &= ~_ST_STALE  # the rig is back (set by a silent-rig tick)
            self._step(step_dt)
        return 0

    def _write_cfg(self, a0, a1, buf, pos):
        if a0 & 1 or a1 & 1:
            return _EX_ADDRESS
        cfg = self.cfg
        for f in range(a0 >> 1, a1 >> 1):
            self._cfg_old[f] = getattr(cfg, NAMES[f])
        ok = True
        p = pos
        try:
            for f in range(a0 >> 1, a1 >> 1):
                v = _s32_at(buf, p)
                p += 4
                if v is None:
                    ok = False
                    break
                cfg.set(NAMES[f], v, False)
            if ok:
                cfg.validate()
        except ConfigError:
            ok = False
        if not ok:
            for f in range(a0 >> 1, a1 >> 1):
                setattr(cfg, NAMES[f], self._cfg_old[f])
            return _EX_VALUE
        self.status |= _ST_CFG_DIRTY
        self.ctl.config_changed()
        return 0

    # -- real time ----------------------------------------------------------------------------
    def tick(self, dt_ms, max_age_ms):
        """One control step on the firmware's own clock with the latest measurements.

        Real time: every cycle. Lock-step: only while the rig is silent (app.serve()); the
        measurements were written for a step that is long past, so they count as stale at once
        (age above max_age_ms: the controller takes its fail-safe path), and sim_time_ms, the
        rig's clock, is left alone so that the rig's next time write still runs one step.
        """
        m = self.ctl.meas
        self.since_write_ms += dt_ms
        if self.since_write_ms > 0x3FFFFFFF - 65536:
            self.since_write_ms = 0x3FFFFFFF - 65536
        m.age_ms = self.written_age_ms + self.since_write_ms
        m.tod_ms = (self.written_tod_ms + self.since_write_ms) % 86400000  # the clock runs on
        if self.lockstep:
            if m.age_ms <= max_age_ms:
                m.age_ms = max_age_ms + 1
            self.silent_steps = (self.silent_steps + 1) & 0x3FFFFFFF
        else:
            self.sim_time_ms = (self.sim_time_ms + dt_ms) & 0x3FFFFFFF
        if m.age_ms > max_age_ms:
            self.status |= _ST_STALE
        else:
            self.status &= ~_ST_STALE
        self._step(dt_ms)

    def _step(self, dt_ms):
        """One control step on the current measurements, with the hooks around it."""
        if self.auth is not None:
            self.auth.tick(dt_ms)
        if self.before_step is not None:
            self.before_step()
        self.ctl.step(self.ctl.meas, dt_ms)
        self.steps += 1
        if self.after_step is not None:
            self.after_step()
