# Reading a whole small file, for the state store and the key store (a module of its own, so
# that the key store does not load the state store's code on a unit without a state file).


def read_file(opener, p):
    """The bytes of the file at p (opened with `opener`), or None when it cannot be opened."""
    try:
        f = opener(p, "rb")
    except OSError:
        return None
    try:
        return f.read()
    finally:
        f.close()
