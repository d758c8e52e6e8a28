# Board data modules, one per target, and the one lookup that maps a running port to its module.
#
# Only firmware/main.py reads these. Every board module defines the variables listed in
# boards/README.md; tests/test_boards_data.py checks that each one does.

# sys.implementation._build (MicroPython >= 1.22) -> board module name
BY_BUILD = {
    "standard": "unix",  # Unix port, standard variant
    "RPI_PICO": "rp2_pico",
    "ESP32_GENERIC": "esp32_devkit",
    "PYBV11": "pyboard_v11",
    "MPS2_AN385": "qemu_mps2",
}
# sys.platform -> board module name, used when _build is missing or unknown
BY_PLATFORM = {
    "linux": "unix",
    "darwin": "unix",
    "rp2": "rp2_pico",
    "esp32": "esp32_devkit",
    "pyboard": "pyboard_v11",
    "qemu": "qemu_mps2",
}
NAMES = ("unix", "rp2_pico", "esp32_devkit", "pyboard_v11", "qemu_mps2")


def board_name(platform, build=None, override=None):
    """Name of the board module: an explicit override first, then the build id, then the port.

    Raises ValueError naming the inputs when nothing matches, so a new board fails at start.
    """
    if override:
        if override not in NAMES:
            raise ValueError("unknown board %r (known: %s)" % (override, ", ".join(NAMES)))
        return override
    if build in BY_BUILD:
        return BY_BUILD[build]
    if platform in BY_PLATFORM:
        return BY_PLATFORM[platform]
    raise ValueError("no board for platform %r build %r; pass a board name" % (platform, build))


def load(override=None, impl=None, platform=None):
    """Import and return the board module for the running port (or the override); impl and
    platform stand in for sys.implementation and sys.platform (tests)."""
    import sys

    impl = sys.implementation if impl is None else impl
    platform = sys.platform if platform is None else platform
    name = board_name(platform, getattr(impl, "_build", None), override)
    return __import__("boards." + name, None, None, ("NAME",))
