# Integer helpers for the control step: exact floor arithmetic that never leaves +-2**30.
#
# Python and MicroPython both floor `//` and give `%` the sign of the divisor, so every result
# here is bit-identical on CPython, the Unix port (64-bit small ints) and 32-bit boards
# (31-bit small ints), provided the documented operand bounds hold.


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def muldiv(a, b, c):
    """floor(a * b / c) for 0 <= b, 0 < c, with b * c < 2**30 and |a| < 2**30.

    Splits a = q*c + r so that no product exceeds max(|a| * b / c, r * b) < 2**30.
    """
    q = a // c
    r = a - q * c
    return q * b + (r * b) // c


def mul_q15(a, g):
    """floor(a * g / 32768) for |a| < 2**30 and 0 <= g < 32768, in two 15-bit limbs."""
    return (a >> 15) * g + (((a & 0x7FFF) * g) >> 15)


def mul_ppm(a, s):
    """floor(a * s / 10**6) for |a| < 2**30 and 0 <= s <= 10**6, exact, every product < 2**30.

    a = 1000 q + r: a s / 10**6 = q s / 1000 + r s / 10**6, and q s = 1000 A + B with
    A = floor(q s / 1000), B = (q mod 1000) s mod 1000, so the result is
    A + floor((1000 B + r s) / 10**6).
    """
    q = a // 1000
    r = a - q * 1000
    return muldiv(q, s, 1000) + (((q % 1000) * s % 1000) * 1000 + r * s) // 1000000
