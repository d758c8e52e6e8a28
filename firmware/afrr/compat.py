# The one place for MicroPython/CPython shims, so every other module imports them from here.
try:
    import micropython  # noqa: F401  (@micropython.native: read by the compiler itself)
    from micropython import const  # noqa: F401
except ImportError:  # CPython: const() is the identity, and so is @micropython.native

    def const(x):
        return x

    class micropython:
        @staticmethod
        def native(f):
            return f
