# afrr.persist records and hal.store atomic save/load; runs under pytest and the Unix port.
import struct

from hal import store_load
from hal.store import (
    ST_CORRUPT,
    ST_DEFAULTS,
    ST_EMPTY,
    ST_FALLBACK,
    ST_FAULT,
    ST_OK,
    StateSaver,
    StateStore,
)
from hal.store_load import boot_state

from afrr import persist
from afrr.config import N_FIELDS, Config
from afrr.controller import Controller


class Crash(Exception):
    pass


class MemFile:
    def __init__(self, fs, name, mode):
        self.fs = fs
        self.name = name
        self.buf = bytearray() if "w" in mode else bytearray(fs.files[name])

    def write(self, data):
        self.fs.tick()
        if self.fs.budget == 1:  # torn write: half of it lands, then the power goes
            self.fs.files[self.name] = bytes(data[: len(data) // 2])
            self.fs.budget = 0
            raise Crash()
        self.buf.extend(data)
        self.fs.files[self.name] = bytes(self.buf)
        return len(data)

    def flush(self):
        pass

    def read(self):
        return bytes(self.buf)

    def close(self):
        pass


class MemFS:
    """Duck-typed filesystem: files in a dict; `budget` operations before a simulated crash."""

    def __init__(self):
        self.files = {}
        self.budget = -1  # -1: never crash

    def tick(self):
        if self.budget == 0:
            raise Crash()
        if self.budget > 0:
            self.budget -= 1

    def open(self, name, mode):
        if "r" in mode and name not in self.files:
            raise OSError(2)
        if "w" in mode:
            self.tick()
            self.files[name] = b""
        return MemFile(self, name, mode)

    def stat(self, name):
        if name not in self.files:
            raise OSError(2)
        return (0,)

    def remove(self, name):
        self.tick()
        if name not in self.files:
            raise OSError(2)
        del self.files[name]

    def rename(self, a, b):
        self.tick()
        if a not in self.files:
            raise OSError(2)
        if b in self.files:  # like FAT: no rename onto an existing name
            raise OSError(17)
        self.files[b] = self.files.pop(a)


def ctl_words(n):
    return [1, 1, n, -n, 7, 0, n & 0x7F, 123456, 5, 10 * n, -(10 * n), 0,
            n, 2 * n, 3, -4, 5, 6, (1 << 30) - 1]


def cfg_words(cfg=None):
    return persist.config_words(cfg or Config())


def test_crc32_matches_the_ieee_check_value():
    assert persist.crc32(b"123456789") == (0xCBF4, 0x3926)
    assert persist.crc32(b"") == (0, 0)


def _saving(every, **kw):
    """A fresh memory filesystem, its store, a default controller and a saver on them."""
    fs = MemFS()
    cfg = Config()
    ctl = Controller(cfg)
    return fs, cfg, ctl, StateSaver(StateStore("s.bin", fs, fs.open), every, **kw)


def test_a_save_encodes_into_the_saver_s_buffers():
    # a save on a fragmented heap asks for nothing bigger than the file system's few small
    # objects: the words and the record go into buffers made once (given the controller, at
    # once), so the encoding allocates nothing at all (checked on MicroPython, heap locked)
    fs, cfg, ctl, sv = _saving(1)
    assert sv._bufs is None and sv.after_step(ctl, cfg)
    bufs = sv._bufs
    assert _saving(1, ctl=ctl)[3]._bufs is not None
    ctl.mode = 1
    assert sv.after_step(ctl, cfg) and sv._bufs is bufs
    fresh = persist.encode(2, ctl.state_words(), persist.config_words(cfg))
    assert fs.files["s.bin"] == bytes(fresh) == bytes(bufs[2])
    assert bufs[0] == ctl.state_words() and bufs[1] == persist.config_words(cfg)
    lo, hi = struct.unpack_from("<HH", fresh, len(fresh) - 4)
    assert persist.crc32(fresh, len(fresh) - 4) == (hi, lo)  # the pair and the stored u32 agree
    try:
        import micropython
    except ImportError:
        return
    w, c, rec = bufs
    micropython.heap_lock()
    try:
        out = persist.encode(3, ctl.state_words(w), persist.config_words(cfg, c), rec)
    finally:
        micropython.heap_unlock()
    assert out is rec and bytes(rec) == bytes(persist.encode(3, ctl.state_words(),
                                                            persist.config_words(cfg)))


def test_round_trip_with_real_controller_state():
    cfg = Config(band_up_kw=800, rating_kw=900, band_down_kw=700)
    ctl = Controller(cfg)
    words = ctl.state_words()
    rec = persist.encode(42, words, persist.config_words(cfg))
    seq, w2, c2 = store_load.decode(rec)
    assert seq == 42 and w2 == words
    cfg2 = store_load.config_from_words(c2)
    assert cfg2.as_dict() == cfg.as_dict()
    ctl2 = Controller(cfg2)
    assert ctl2.restore(w2)
    assert ctl2.state_words() == words


def test_every_truncation_is_detected():
    rec = persist.encode(3, ctl_words(3), cfg_words())
    for n in range(len(rec)):
        try:
            store_load.decode(rec[:n])
        except store_load.PersistError as e:
            assert e.reason in ("short", "magic"), e.reason
        else:
            raise AssertionError("truncated to %d accepted" % n)


def test_every_byte_corruption_is_detected():
    rec = persist.encode(9, ctl_words(9), cfg_words())
    for i in range(len(rec)):
        bad = bytearray(rec)
        bad[i] ^= 0x5A
        try:
            store_load.decode(bad)
        except store_load.PersistError:
            pass
        else:
            raise AssertionError("flip at byte %d accepted" % i)


def test_other_format_or_layout_is_rejected():
    rec = bytearray(persist.encode(1, ctl_words(1), cfg_words()))
    rec[4] = persist.FORMAT + 1
    try:
        store_load.decode(rec)
        raise AssertionError("accepted")
    except store_load.PersistError as e:
        assert e.reason == "version"
    try:
        store_load.config_from_words(cfg_words()[:-1])
        raise AssertionError("accepted")
    except store_load.PersistError as e:
        assert e.reason == "layout"
    bad = cfg_words()
    bad[0] = 1  # cycle_ms below its range
    try:
        store_load.config_from_words(bad)
        raise AssertionError("accepted")
    except store_load.PersistError as e:
        assert e.reason == "config"
    assert len(cfg_words()) == N_FIELDS


def test_sequence_numbers_wrap():
    assert store_load.newer(1, 0) and not store_load.newer(0, 1)
    assert store_load.newer(0, persist.SEQ_MASK)
    assert not store_load.newer(5, 5)


def test_store_save_load_and_fallbacks():
    fs = MemFS()
    st = StateStore("s.bin", fs, fs.open)
    assert st.load() is None and st.status == ST_EMPTY
    for n in range(1, 4):
        assert st.save(ctl_words(n), cfg_words()) == n
    st2 = StateStore("s.bin", fs, fs.open)
    seq, words, cfg = st2.load()
    assert (seq, words, st2.status) == (3, ctl_words(3), ST_OK)
    assert cfg.as_dict() == Config().as_dict()
    # the newest copy corrupt: fall back to the previous one, flagged
    fs.files["s.bin"] = fs.files["s.bin"][:-3] + b"xyz"
    seq, words, _ = st2.load()
    assert seq == 2 and words == ctl_words(2)
    assert st2.status & ST_FALLBACK and st2.status & ST_CORRUPT
    # both corrupt: defaults, flagged
    fs.files["s.bin.bak"] = b"garbage"
    assert st2.load() is None and st2.status == ST_CORRUPT | ST_DEFAULTS
    # saves go on; the fault clears once the garbage has rotated out of .bak
    st2.save(ctl_words(7), cfg_words())
    assert st2.load()[1] == ctl_words(7) and st2.status == ST_CORRUPT
    st2.save(ctl_words(8), cfg_words())
    assert st2.load()[1] == ctl_words(8) and st2.status == ST_OK


def test_crash_at_every_point_of_a_save_keeps_a_good_record():
    for crash_at in range(0, 12):
        fs = MemFS()
        st = StateStore("s.bin", fs, fs.open)
        for n in range(1, 3):
            st.save(ctl_words(n), cfg_words())
        fs.budget = crash_at
        try:
            st.save(ctl_words(3), cfg_words())
            done = True
        except Crash:
            done = False
        fs.budget = -1
        st2 = StateStore("s.bin", fs, fs.open)
        seq, words, _ = st2.load()
        assert seq in (2, 3) and words == ctl_words(seq)
        if done:
            assert seq == 3
        assert not st2.status & ST_FAULT, (crash_at, st2.status, st2.reasons)
        # and the store keeps working after the crash
        st2.save(ctl_words(9), cfg_words())
        assert st2.load()[1] == ctl_words(9) and st2.status == ST_OK


class Board:
    UNIT_DEFAULTS = {"rating_kw": 2000, "band_up_kw": 1500, "band_down_kw": 1500}


def test_boot_state_then_saver_round_trip():
    from afrr.controller import MODE_LOCAL

    fs = MemFS()
    st = StateStore("s.bin", fs, fs.open)
    values, words, status = boot_state(st, Board)
    assert values == Board.UNIT_DEFAULTS and words is None and status == ST_EMPTY
    cfg = Config(**values)
    ctl = Controller(cfg)
    ctl.set_mode(MODE_LOCAL)
    saver = StateSaver(st)
    m = ctl.meas
    m.f_mhz = 49950  # under-frequency: upward aFRR, the integrator moves
    m.soc_x100 = 5000
    saves = []
    for k in range(300):  # 20 min of 4 s cycles from 00:10
        m.tod_ms = 600000 + 4000 * k
        ctl.step(m, 4000)
        if saver.after_step(ctl, cfg):
            saves.append(k)
    # a save at the first step and at the ISP boundary 00:15 (k = 75)
    assert saves == [0, 75], saves
    saver.request()
    assert saver.after_step(ctl, cfg) and saver.saves == 3
    # a reset: the next boot restores config and controller state
    st2 = StateStore("s.bin", fs, fs.open)
    values, words, status = boot_state(st2, Board)
    assert status == ST_OK and values == cfg.as_dict()
    ctl2 = Controller(Config(**values))
    assert ctl2.restore(words)
    assert ctl2.state_words() == ctl.state_words()


def test_saver_survives_a_failing_flash():
    fs, cfg, ctl, saver = _saving(2)

    def broken(*_a):
        raise OSError(28)  # ENOSPC

    fs.rename = broken
    assert not saver.after_step(ctl, cfg) and saver.errors == 1
    assert not saver.after_step(ctl, cfg) and saver.errors == 2
    del fs.rename  # the class method again
    assert saver.after_step(ctl, cfg) and saver.saves == 1
    good = fs.files["s.bin"]

    def full(*_a):
        raise MemoryError  # the heap is full while the record is built
    ctl.state_words = full
    saver.request()
    assert not saver.after_step(ctl, cfg) and saver.errors == 3
    assert fs.files["s.bin"] == good  # the last good record stays
    del ctl.state_words
    assert saver.after_step(ctl, cfg) and saver.saves == 2


class UnreadableFile:
    def read(self):
        raise OSError(21)  # EISDIR: how the Unix port fails on a directory opened for reading

    def close(self):
        pass


def test_unreadable_copies_are_a_fault_never_a_crash():
    fs = MemFS()
    st = StateStore("s.bin", fs, fs.open)
    st.save(ctl_words(1), cfg_words())
    st.save(ctl_words(2), cfg_words())
    real_open = fs.open
    bad = {}  # path -> "read" (open works, read fails) or an errno raised by open

    def opener(name, mode):
        how = bad.get(name)
        if how == "read":
            return UnreadableFile()
        if how is not None:
            raise OSError(how)
        return real_open(name, mode)

    st2 = StateStore("s.bin", fs, opener)
    # the current copy cannot be read (a directory on the Unix port): fall back to .bak, flagged
    bad["s.bin"] = "read"
    seq, words, _ = st2.load()
    assert (seq, words) == (1, ctl_words(1))
    assert st2.status & ST_CORRUPT and st2.status & ST_FAULT
    assert ("s.bin", "unreadable") in st2.reasons
    # open itself refuses (CPython: IsADirectoryError; EACCES): the same, not "no copy there"
    for errno in (21, 13):
        bad["s.bin"] = errno
        assert st2.load()[0] == 1 and st2.status & ST_FAULT
    # nothing readable at all: defaults, flagged as a fault (not a first start)
    bad["s.bin.bak"] = "read"
    assert st2.load() is None and st2.status == ST_CORRUPT | ST_DEFAULTS
    # an unreadable leftover .tmp is not a torn write: it is reported
    bad.clear()
    bad["s.bin.tmp"] = 21
    fs.files["s.bin.tmp"] = b""
    assert st2.load()[0] == 2 and st2.status & ST_CORRUPT
    # absent files (ENOENT) are still just absent
    st3 = StateStore("other.bin", fs, opener)
    assert st3.load() is None and st3.status == ST_EMPTY


def test_compose_with_an_unreadable_state_sets_the_state_fault_bit():
    from app import compose

    from afrr import regmap

    class B:
        NAME = "unix"
        UNIT_DEFAULTS = Board.UNIT_DEFAULTS

    fs = MemFS()

    def opener(name, mode):
        if name == "s.bin" and "r" in mode:
            return UnreadableFile()
        return fs.open(name, mode)

    app = compose(B, store=StateStore("s.bin", fs, opener))
    assert app.bank.status & regmap.ST_STATE_FAULT
    assert app.cfg.as_dict() == Config(**Board.UNIT_DEFAULTS).as_dict()
