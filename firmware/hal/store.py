# Persisted state on a filesystem: atomic writes (temp file, then rename) and a fallback on load.
#
# Three names: PATH (current), PATH.bak (previous), PATH.tmp (being written). save():
#   1. write the new record to PATH.tmp and close it;
#   2. remove PATH.bak; rename PATH -> PATH.bak;
#   3. rename PATH.tmp -> PATH.
# A power cut or kill at any point leaves at least one complete record: while the new one is
# being written, PATH (or, between the renames, PATH.bak) still holds the previous one, and the
# finished PATH.tmp already holds the new one. load() decodes every copy and takes the valid one
# with the newest sequence number; a torn or corrupt copy fails its CRC and is skipped. When the
# newest is PATH.tmp (cut off before the renames), load() completes the renames first, so that
# the next save cannot overwrite the only copy of it. Works on
# littlefs and FAT (which cannot rename onto an existing name, hence the explicit remove) and on
# POSIX. The filesystem comes in as `fs` (default: the os module) so tests can pass a fake.
from afrr import persist

ST_OK = 0
ST_CORRUPT = 0x01  # at least one copy was present but unusable (torn, CRC, old format, config)
ST_FALLBACK = 0x02  # the newest copy was unusable: an older good copy was loaded
ST_DEFAULTS = 0x04  # no usable copy: the caller starts from defaults
ST_EMPTY = 0x08  # no copy at all (first start); not a fault by itself
ST_FAULT = ST_CORRUPT | ST_FALLBACK | ST_DEFAULTS  # bits that mean "report a fault"
_ENOENT = 2  # errno "no such file": the only open error that means "no copy there"
_UNREADABLE = object()  # _read(): a copy is there but cannot be read


def _default_fs():
    import os

    return os


class StateStore:
    """Save and load persist records at `path`; `fs` needs rename(), remove() and stat()."""

    def __init__(self, path, fs=None, opener=open, sync=None):
        self.path = path
        self.sync = sync  # called after the temp file is closed (os.sync on a board)
        self.tmp = path + ".tmp"
        self.bak = path + ".bak"
        self.fs = fs if fs is not None else _default_fs()
        self.open = opener
        self.seq = 0  # sequence number of the last record loaded or saved
        self.status = ST_EMPTY
        self.reasons = []  # (path, reason) for every unusable copy seen by the last load()

    def _exists(self, p):
        try:
            self.fs.stat(p)
            return True
        except OSError:
            return False

    def _remove(self, p):
        try:
            self.fs.remove(p)
        except OSError:
            pass

    def save(self, ctl_words, cfg_words):
        """Write a new record atomically; returns its sequence number. OSError propagates."""
        seq = (self.seq + 1) & persist.SEQ_MASK
        data = persist.encode(seq, ctl_words, cfg_words)
        f = self.open(self.tmp, "wb")
        try:
            f.write(data)
            f.flush()
        finally:
            f.close()
        if self.sync is not None:
            self.sync()
        self._promote_tmp()
        self.seq = seq
        return seq

    def _promote_tmp(self):
        if self._exists(self.path):
            self._remove(self.bak)
            self.fs.rename(self.path, self.bak)
        self.fs.rename(self.tmp, self.path)

    def _read(self, p):
        """The bytes at p; None when nothing is there; _UNREADABLE when something is there
        that cannot be read (a directory, a permission or I/O error): a fault, never a crash."""
        try:
            f = self.open(p, "rb")
        except OSError as e:
            return None if e.args and e.args[0] == _ENOENT else _UNREADABLE
        try:
            return f.read()
        except OSError:  # MicroPython opens a directory and fails on read (EISDIR)
            return _UNREADABLE
        finally:
            f.close()

    def load(self):
        """(seq, ctl_words, config) of the newest usable copy, or None; sets self.status.

        `config` is a validated afrr.config.Config. status is ST_OK, ST_EMPTY, or a mix of
        ST_CORRUPT / ST_FALLBACK / ST_DEFAULTS (test with ST_FAULT).
        """
        self.reasons = []
        best = None
        best_path = None
        newest_seen = None  # newest sequence number among readable records, usable or not
        present = 0
        for p in (self.path, self.tmp, self.bak):
            data = self._read(p)
            if data is None:
                continue
            present += 1
            if data is _UNREADABLE:
                self.reasons.append((p, "unreadable"))
                continue
            try:
                seq, ctl, cfg_words = persist.decode(data)
            except persist.PersistError as e:
                self.reasons.append((p, e.reason))
                continue
            if newest_seen is None or persist.newer(seq, newest_seen):
                newest_seen = seq
            try:
                cfg = persist.config_from_words(cfg_words)
            except persist.PersistError as e:
                self.reasons.append((p, e.reason))
                continue
            if best is None or persist.newer(seq, best[0]):
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
            torn_tmp_only = (len(self.reasons) == 1 and self.reasons[0][0] == self.tmp
                             and self.reasons[0][1] != "unreadable")
            if self.reasons and not torn_tmp_only:
                status |= ST_CORRUPT
            if newest_seen is not None and persist.newer(newest_seen, best[0]):
                status |= ST_CORRUPT | ST_FALLBACK
            elif best_path == self.bak and (self.reasons and not torn_tmp_only):
                status |= ST_FALLBACK
            self.seq = best[0]
            if best_path == self.tmp:
                # a save cut short between writing .tmp and its renames: finish it now, or the
                # next save would overwrite the only copy of this record
                try:
                    self._promote_tmp()
                except OSError:
                    pass
        if newest_seen is not None and persist.newer(newest_seen, self.seq):
            self.seq = newest_seen  # the next save must be newer than every readable copy
        self.status = status
        return best


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


ST_REJECTED = 0x10  # a record loaded but the controller refused its words (Controller.restore)


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


class StateSaver:
    """Decides when to save: at every new ISP (15 min), on request, and every `every` steps.

    Call after_step(ctl, cfg) once per control step; it costs one comparison unless a save is
    due. A failed write (OSError, or MemoryError on a full heap) never stops the control loop: it
    is counted in `errors` and retried at the next step; the last good record stays in place.
    """

    def __init__(self, store, every=0):
        self.store = store
        self.every = every  # steps between periodic saves; 0 = only at ISP change / request
        self._n = 0
        self._isp = -2
        self._want = False
        self.saves = 0
        self.errors = 0

    def request(self):
        """Save after the next step (e.g. the configuration or the mode was changed)."""
        self._want = True

    def after_step(self, ctl, cfg):
        self._n += 1
        isp = ctl.energy.isp
        if isp != self._isp or self._want or (self.every and self._n >= self.every):
            try:
                self.store.save(ctl.state_words(), persist.config_words(cfg))
            except (OSError, MemoryError):  # a full heap is a failed save too: the loop
                self.errors = (self.errors + 1) & 0x3FFFFFFF  # goes on, the old record stays
                return False
            self._isp = isp
            self._want = False
            self._n = 0
            self.saves = (self.saves + 1) & 0x3FFFFFFF
            return True
        return False
