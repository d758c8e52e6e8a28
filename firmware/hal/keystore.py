# The unit's key file and its persisted sequence floor (afrr/auth.py), beside the state file.
#
# KEY (text "<key id> <key as hex>", written by deployment, never by the firmware) and KEY.seq
# (decimal: every sequence number up to it counts as used). The floor is rewritten only when an
# accepted command passes it, RESERVE numbers ahead each time. KEY.seq.tmp is written first and
# then renamed over KEY.seq; the loader takes the higher of the two, so a cut between the remove
# and the rename loses nothing. Neither file: floor 0 (a first deployment). A floor file that is
# there but is no number in 0..2**32 - 1 (damaged flash, a cut write) is skipped when the other
# one is valid; when none is valid the floor is unknown, and any floor the loader guessed could
# reopen replays of commands already accepted: the unit then takes the top floor 2**32 - 1, so
# it refuses every authenticated command and unlock until a deployment writes a floor
# (tools/deploy.py --floor), and prints one line. Kept small: it stays on a unit's heap.
from afrr.auth import Auth, parse_key


def key_path(board):
    """A board's key file: its KEY_PATH, else afrr.key beside its STATE_PATH."""
    return getattr(board, "KEY_PATH", board.STATE_PATH.rsplit("/", 1)[0] + "/afrr.key")


def _read(opener, p):
    """The bytes of the file at p; None when there is no such file; b"" when it is there but
    cannot be read (it then counts as damaged)."""
    try:
        f = opener(p, "rb")
    except OSError as e:
        return None if e.args[0] == 2 else b""  # 2: ENOENT
    try:
        return f.read()
    except OSError:
        return b""
    finally:
        f.close()


def load_auth(where, fs=None, opener=open, say=print):
    """The Auth of the key file at `where` (a path, or a board data module: key_path) with its
    floor. No key or a bad key file: an Auth without a key (locked for good; a bad file is
    reported in one line), except None on an OPEN_BENCH board without a key file (the open
    bench profile). Floor files present but none valid: the top floor (see above).
    `fs`: remove()/rename() (os). `say`: where the one-line errors go (print)."""
    if fs is None:
        import os as fs
    path = where if isinstance(where, str) else key_path(where)
    key = None
    kid = 0
    data = _read(opener, path)
    if data is None:
        if getattr(where, "OPEN_BENCH", False):
            return None
        say("error: no key file %s: locked" % path)
    else:
        try:
            kid, key = parse_key(data.decode())
        except (ValueError, UnicodeError) as e:
            say("error: %s: %s: locked" % (path, e))
    floor = -1
    bad = None
    for p in (path + ".seq", path + ".seq.tmp"):
        data = _read(opener, p)
        if data is not None:  # a number in 0..2**32 - 1, decimal, nothing else
            v = int(data) if 0 < len(data) <= 10 and data.isdigit() else -1
            if v < 0 or v > 0xFFFFFFFF:
                bad = p
            elif v > floor:
                floor = v
    if floor < 0:
        floor = 0
        if bad:
            say("error: %s: no valid sequence floor: commands refused until one is deployed"
                % bad)
            floor = 0xFFFFFFFF

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
