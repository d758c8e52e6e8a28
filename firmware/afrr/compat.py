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

try:
    from sys import intern  # noqa: F401  (CPython)
except ImportError:  # MicroPython: a name as its qstr. A string inside a constant tuple of a .mpy
    # loads as a heap copy (two GC blocks) unless its qstr exists already; getattr() interns the
    # name it is given (as every attribute name is), and str() of a str returns the qstr when
    # there is one.

    def intern(s):
        getattr(intern, s, None)
        return str(s)
