# The unit's key file and its persisted sequence floor (afrr/auth.py), beside the state file.
#
# KEY (text "<key id> <key as hex>", written by deployment, never by the firmware) and KEY.seq
# (decimal: every sequence number up to it counts as used). The floor is rewritten only when an
# accepted command passes it, RESERVE numbers ahead each time. KEY.seq.tmp is written first and
# then renamed over KEY.seq; the loader takes the higher of the two, so a cut between the remove
# and the rename loses nothing. Kept small: it stays on a unit's heap (the floor writer).
from afrr.auth import Auth, parse_key


def _read(opener, p):
    """The bytes of the file at p, or None when it cannot be read (absent, unreadable: the
    unit then runs locked, or counts the floor as 0)."""
    try:
        f = opener(p, "rb")
    except OSError:
        return None
    try:
        return f.read()
    except OSError:
        return None
    finally:
        f.close()


def load_auth(where, fs=None, opener=open):
    """The Auth of the key file at `where` (a path, or a board data module: its KEY_PATH, else
    afrr.key beside its STATE_PATH) with its floor. No key or a bad key file: an Auth without a
    key (locked for good; a bad file is reported in one line). `fs`: remove()/rename() (os)."""
    if fs is None:
        import os as fs
    path = where if isinstance(where, str) else getattr(
        where, "KEY_PATH", where.STATE_PATH.rsplit("/", 1)[0] + "/afrr.key")
    key = None
    kid = 0
    data = _read(opener, path)
    if data is None:
        print("error: no key file %s: locked" % path)
    else:
        try:
            kid, key = parse_key(data.decode())
        except (ValueError, UnicodeError) as e:
            print("error: %s: %s: locked" % (path, e))
    floor = 0
    for p in (path + ".seq", path + ".seq.tmp"):
        try:
            v = int(_read(opener, p) or 0)
        except ValueError:
            v = 0
        if floor < v <= 0xFFFFFFFF:
            floor = v

    def reserve(new):
        f = opener(path + ".seq.tmp", "wb")
        try:
            f.write(b"%d" % new)
        finally:
            f.close()
        try:
            fs.remove(path + ".seq")
        except OSError:
            pass
        fs.rename(path + ".seq.tmp", path + ".seq")

    return Auth(key, kid, floor, reserve)
