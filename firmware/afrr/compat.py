# The one place for MicroPython/CPython shims, so every other module imports them from here.
try:
    from micropython import const  # noqa: F401
except ImportError:  # CPython: const() is the identity

    def const(x):
        return x
