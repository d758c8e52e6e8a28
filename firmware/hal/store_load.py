# Loading the persisted state: the start-only half of hal/store.py (StateStore.load() calls
# load() here). A unit loads its state once, at start; app.start() then drops this module from
# sys.modules, so its code does not stay in the heap while the unit runs. The record format and
# the three file names (PATH, PATH.tmp, PATH.bak): see hal/store.py and afrr/persist.py.
from afrr import persist_read
from hal.store import (ST_CORRUPT, ST_DEFAULTS, ST_EMPTY, ST_FALLBACK, ST_OK)

_ENOENT = 2  # errno "no such file": the only open error that means "no copy there"
_UNREADABLE = object()  # _read(): a copy is there but cannot be read


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
            seq, ctl, cfg_words = persist_read.decode(data)
        except persist_read.PersistError as e:
            store.reasons.append((p, e.reason))
            continue
        if newest_seen is None or persist_read.newer(seq, newest_seen):
            newest_seen = seq
        try:
            cfg = persist_read.config_from_words(cfg_words)
        except persist_read.PersistError as e:
            store.reasons.append((p, e.reason))
            continue
        if best is None or persist_read.newer(seq, best[0]):
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
        if newest_seen is not None and persist_read.newer(newest_seen, best[0]):
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
    if newest_seen is not None and persist_read.newer(newest_seen, store.seq):
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
