# Persisted state on a filesystem: atomic writes (temp file, then rename) and a fallback on load.
#
# Three names: PATH (current), PATH.bak (previous), PATH.tmp (being written). save():
#   1. write the new record to PATH.tmp and close it;
#   2. rename PATH -> PATH.bak (onto the old PATH.bak: POSIX and littlefs replace it; FAT cannot
#      rename onto an existing name, so there the old PATH.bak is removed first);
#   3. rename PATH.tmp -> PATH.
# A power cut or kill at any point leaves at least one complete record: while the new one is
# being written, PATH (or, between the renames, PATH.bak) still holds the previous one, and the
# finished PATH.tmp already holds the new one. load() decodes every copy and takes the valid one
# with the newest sequence number; a torn or corrupt copy fails its CRC and is skipped. When the
# newest is PATH.tmp (cut off before the renames), load() completes the renames first, so that
# the next save cannot overwrite the only copy of it. Works on littlefs, FAT and POSIX. The
# filesystem comes in as `fs` (default: the os module) so tests can pass a fake.
from afrr import persist

ST_OK = 0
ST_CORRUPT = 0x01  # at least one copy was present but unusable (torn, CRC, old format, config)
ST_FALLBACK = 0x02  # the newest copy was unusable: an older good copy was loaded
ST_DEFAULTS = 0x04  # no usable copy: the caller starts from defaults
ST_EMPTY = 0x08  # no copy at all (first start); not a fault by itself
ST_FAULT = ST_CORRUPT | ST_FALLBACK | ST_DEFAULTS  # bits that mean "report a fault"


class StateStore:
    """Save and load persist records at `path`; `fs` needs rename(), remove() and stat()."""

    def __init__(self, path, fs=None, opener=open, sync=None):
        self.path = path
        self.sync = sync  # called after the temp file is closed (os.sync on a board)
        self.tmp = path + ".tmp"
        self.bak = path + ".bak"
        if fs is None:
            import os as fs
        self.fs = fs
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

    def save(self, ctl_words, cfg_words, buf=None):
        """Write a new record atomically; returns its sequence number. OSError propagates.
        buf: the bytearray to encode into (persist.encode)."""
        seq = (self.seq + 1) & persist.SEQ_MASK
        data = persist.encode(seq, ctl_words, cfg_words, buf)
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
        try:  # POSIX and littlefs rename onto an existing PATH.bak (no stat() result to make)
            self.fs.rename(self.path, self.bak)
        except OSError:  # no PATH yet, or FAT, which cannot rename onto an existing name
            if self._exists(self.path):
                self._remove(self.bak)
                self.fs.rename(self.path, self.bak)
        self.fs.rename(self.tmp, self.path)

    def load(self):
        """(seq, ctl_words, config) of the newest usable copy, or None; sets self.status.

        `config` is a validated afrr.config.Config. status is ST_OK, ST_EMPTY, or a mix of
        ST_CORRUPT / ST_FALLBACK / ST_DEFAULTS (test with ST_FAULT). The code lives in
        hal/store_load.py, a start-only module (a unit loads once, at start).
        """
        from hal.store_load import load

        return load(self)


ST_REJECTED = 0x10  # a record loaded but the controller refused its words (Controller.restore)


class StateSaver:
    """Decides when to save: at every new ISP (15 min), on request, and every `every` steps.

    Call after_step(ctl, cfg) once per control step; it costs one comparison unless a save is
    due. A save encodes into buffers made once (with `ctl`, at once, while start-up leaves room;
    else at the first save), so on a fragmented heap it asks only for the file system's few small
    objects. A failed write (OSError, or MemoryError on a full heap) never stops the control
    loop: it is counted in `errors` and retried at the next step; the last good record stays in
    place.
    """

    def __init__(self, store, every=0, ctl=None):
        self.store = store
        self.every = every  # steps between periodic saves; 0 = only at ISP change / request
        self._n = 0
        self._isp = -2
        self._want = False
        self.saves = 0
        self.errors = 0
        self._bufs = None  # (controller words, config words, record): _buffers()
        if ctl is not None:
            self._buffers(ctl)

    def _buffers(self, ctl):
        w = ctl.state_words()
        b = self._bufs = (w, [0] * persist.N_FIELDS, bytearray(persist.record_size(len(w))))
        return b

    def request(self):
        """Save after the next step (e.g. the configuration or the mode was changed)."""
        self._want = True

    def after_step(self, ctl, cfg):
        self._n += 1
        isp = ctl.energy.isp
        if isp != self._isp or self._want or (self.every and self._n >= self.every):
            try:
                b = self._bufs or self._buffers(ctl)  # from then on no list, no record
                self.store.save(ctl.state_words(b[0]), persist.config_words(cfg, b[1]), b[2])
            except (OSError, MemoryError):  # a full heap is a failed save too: the loop
                self.errors = (self.errors + 1) & 0x3FFFFFFF  # goes on, the old record stays
                return False
            self._isp = isp
            self._want = False
            self._n = 0
            self.saves = (self.saves + 1) & 0x3FFFFFFF
            return True
        return False
