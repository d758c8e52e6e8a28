# The one place for MicroPython/CPython shims, so every other module imports them from here.
try:
    import micropython  # noqa: F401  (@micropython.native/viper: read by the compiler itself)
    from micropython import const  # noqa: F401
except ImportError:  # CPython: const() is the identity, and so are the decorators and the cast

    def const(x):
        return x

    def ptr8(x):  # viper's pointer cast (MicroPython compiles it, and imports none)
        return x

    class micropython:
        @staticmethod
        def native(f):
            return f

        viper = native
