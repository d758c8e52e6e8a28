# Shared pytest set-up: hypothesis profiles (CI is derandomised and bounded), repo paths.
import os
import pathlib

from hypothesis import HealthCheck, settings

ROOT = pathlib.Path(__file__).resolve().parent.parent
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
# the 32-bit Unix port (31-bit small ints, 4-byte objects, as on the boards): $AFRR_MICROPYTHON32,
# else the one tools/build_micropython.py builds (`make micropython`, needs gcc-multilib)
MICROPYTHON32 = os.environ.get("AFRR_MICROPYTHON32") or str(
    ROOT / "build" / "micropython" / "micropython32")
NO_MICROPYTHON32 = "no 32-bit MicroPython: `make micropython` (needs gcc-multilib)"

settings.register_profile(
    "ci", max_examples=150, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=150, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
