# Opening and loading the persisted state: the start-only half of hal/store.py (open_store(), and
# the load() that StateStore.load() calls) and of afrr/persist.py (the record decoder). A unit
# loads its state once, at start; app.start() then drops this module from sys.modules, so its
# code does not stay in the heap while the unit runs. The record format: afrr/persist.py; the
# three file names (PATH, PATH.tmp, PATH.bak): hal/store.py.
import struct

from afrr.config import N_FIELDS, NAMES, ConfigError
from afrr.config import load as config_load
from afrr.persist import _HEAD, _MAX_WORDS, FORMAT, MAGIC, SEQ_MASK, crc32
from hal.store import ST_CORRUPT, ST_DEFAULTS, ST_EMPTY, ST_FALLBACK, ST_OK, StateStore

_ENOENT = 2  # errno "no such file": the only open error that means "no copy there"
_UNREADABLE = object()  # _read(): a copy is there but cannot be read


class PersistError(ValueError):
    """A record that cannot be used; `reason` is one short word for logs and tests."""

    def __init__(self, reason):
        super().__init__("state record: " + reason)
        self.reason = reason


def config_from_words(words):
    """A validated Config from config_words(); raises PersistError('config') if invalid."""
    if len(words) != N_FIELDS:
        raise PersistError("layout")
    try:
        return config_load({NAMES[i]: words[i] for i in range(N_FIELDS)})
    except ConfigError:
        raise PersistError("config")


def decode(buf):
    """(seq, ctl_words, cfg_words) from a record; raises PersistError on anything wrong."""
    if len(buf) < _HEAD + 4:
        raise PersistError("short")
    if bytes(buf[0:4]) != MAGIC:
        raise PersistError("magic")
    fmt, m, n, seq = struct.unpack_from("<BBHi", buf, 4)
    if fmt != FORMAT:
        raise PersistError("version")
    if n > _MAX_WORDS:
        raise PersistError("length")
    end = _HEAD + 4 * (n + m)
    if len(buf) != end + 4:
        raise PersistError("short" if len(buf) < end + 4 else "length")
    lo, hi = struct.unpack_from("<HH", buf, end)
    if crc32(buf, end) != (hi, lo):
        raise PersistError("crc")
    if m != N_FIELDS:
        raise PersistError("layout")
    if seq < 0 or seq > SEQ_MASK:
        raise PersistError("seq")
    ctl = [struct.unpack_from("<i", buf, _HEAD + 4 * i)[0] for i in range(n)]
    cfg = [struct.unpack_from("<i", buf, _HEAD + 4 * (n + i))[0] for i in range(m)]
    return seq, ctl, cfg


def newer(a, b):
    """True if sequence number a is newer than b (wrapping at 2**30)."""
    d = (a - b) & SEQ_MASK
    return 0 < d < 0x20000000  # half the 2**30 sequence space


def open_store(board, path=None):
    """The StateStore for a board module (boards/*.py): its STATE_PATH, os.sync where present.
    A board with RAM_FS_BLOCKS keeps it on littlefs in RAM (hal/ramfs.py); None when that build
    has no littlefs ("no storage": the firmware runs without persisted state)."""
    import os

    if getattr(board, "RAM_FS_BLOCKS", 0) and path is None:
        from hal.ramfs import mount

        if mount(board).startswith("no storage"):
            return None

    sync = None if board.NAME == "unix" else getattr(os, "sync", None)
    return StateStore(path or board.STATE_PATH, os, open, sync)


def _read(store, p):
    """The bytes at p; None when nothing is there; _UNREADABLE when something is there
    that cannot be read (a directory, a permission or I/O error): a fault, never a crash."""
    try:
        f = store.open(p, "rb")
    except OSError as e:
        return None if e.args and e.args[0] == _ENOENT else _UNREADABLE
    try:
        return f.read()
    except OSError:  # MicroPython opens a directory and fails on read (EISDIR)
        return _UNREADABLE
    finally:
        f.close()


def load(store):
    """(seq, ctl_words, config) of the newest usable copy, or None; sets store.status.

    `config` is a validated afrr.config.Config. status is ST_OK, ST_EMPTY, or a mix of
    ST_CORRUPT / ST_FALLBACK / ST_DEFAULTS (test with ST_FAULT).
    """
    store.reasons = []
    best = None
    best_path = None
    newest_seen = None  # newest sequence number among readable records, usable or not
    present = 0
    for p in (store.path, store.tmp, store.bak):
        data = _read(store, p)
        if data is None:
            continue
        present += 1
        if data is _UNREADABLE:
            store.reasons.append((p, "unreadable"))
            continue
        try:
            seq, ctl, cfg_words = decode(data)
        except PersistError as e:
            store.reasons.append((p, e.reason))
            continue
        if newest_seen is None or newer(seq, newest_seen):
            newest_seen = seq
        try:
            cfg = config_from_words(cfg_words)
        except PersistError as e:
            store.reasons.append((p, e.reason))
            continue
        if best is None or newer(seq, best[0]):
            best = (seq, ctl, cfg)
            best_path = p
    status = ST_OK
    if present == 0:
        status = ST_EMPTY
    elif best is None:
        status = ST_CORRUPT | ST_DEFAULTS
    else:
        # a leftover .tmp that failed its CRC is a write cut short before the renames: the
        # previous record is then exactly the expected state, not a fault
        torn_tmp_only = (len(store.reasons) == 1 and store.reasons[0][0] == store.tmp
                         and store.reasons[0][1] != "unreadable")
        if store.reasons and not torn_tmp_only:
            status |= ST_CORRUPT
        if newest_seen is not None and newer(newest_seen, best[0]):
            status |= ST_CORRUPT | ST_FALLBACK
        elif best_path == store.bak and (store.reasons and not torn_tmp_only):
            status |= ST_FALLBACK
        store.seq = best[0]
        if best_path == store.tmp:
            # a save cut short between writing .tmp and its renames: finish it now, or the
            # next save would overwrite the only copy of this record
            try:
                store._promote_tmp()
            except OSError:
                pass
    if newest_seen is not None and newer(newest_seen, store.seq):
        store.seq = newest_seen  # the next save must be newer than every readable copy
    store.status = status
    return best


def boot_state(store, board):
    """What main.py needs at start: (cfg_values, ctl_words or None, status).

    cfg_values is the persisted, validated configuration as a dict when a good record exists,
    else the board's UNIT_DEFAULTS (build Config(**cfg_values) from it). After building the
    Controller: `if words and not ctl.restore(words): status |= ST_REJECTED`.
    """
    rec = store.load()
    if rec is None:
        return dict(board.UNIT_DEFAULTS), None, store.status
    return rec[2].as_dict(), rec[1], store.status
