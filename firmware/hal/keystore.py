# The unit's key file and its persisted sequence floor, beside the state file.
#
# KEY (text "<key id> <key as hex>", written by deployment, never by the firmware) and
# KEY.seq (decimal: every sequence number up to it counts as used, afrr/auth.py). The floor is
# rewritten only when an accepted command passes it, each time RESERVE numbers ahead, so flash
# sees one write per 4096 commands. KEY.seq.tmp is written first; the loader takes the higher of
# the two, so a cut between the remove and the rename loses nothing.
from afrr.auth import Auth, parse_key


def _read(opener, p):
    try:
        f = opener(p, "rb")
    except OSError:
        return None
    try:
        return f.read()
    finally:
        f.close()


class KeyStore:
    """Loads the key, keeps the floor; `fs` needs remove() and rename() (default os)."""

    def __init__(self, path, fs=None, opener=open):
        if fs is None:
            import os as fs
        self.path = path
        self.seq_path = path + ".seq"
        self.tmp = path + ".seq.tmp"
        self.fs = fs
        self.open = opener
        self.error = ""  # why no key was loaded (empty: loaded, or no key file)

    def load(self):
        """An Auth with the key (None when absent or unusable: the lock never opens)."""
        key = None
        kid = 0
        data = _read(self.open, self.path)
        if data is not None:
            try:
                kid, key = parse_key(data.decode())
            except (ValueError, UnicodeError) as e:
                self.error = str(e)
        floor = 0
        for p in (self.seq_path, self.tmp):
            d = _read(self.open, p)
            try:
                v = int(d) if d else 0
            except ValueError:
                v = 0
            if 0 <= v <= 0xFFFFFFFF and v > floor:
                floor = v
        return Auth(key, kid, floor, self.reserve)

    def reserve(self, floor):
        """Persist a new floor (Auth calls this before it accepts past the old one)."""
        f = self.open(self.tmp, "wb")
        try:
            f.write(b"%d" % floor)
        finally:
            f.close()
        try:
            self.fs.remove(self.seq_path)
        except OSError:
            pass
        self.fs.rename(self.tmp, self.seq_path)
