# The firmware tests on a 32-bit MicroPython Unix port, where 2**30 is a long int and every
# intermediate must stay a small int to allocate nothing (as on the boards). The binary is
# tools/build_micropython.py's (`make micropython`) or $AFRR_MICROPYTHON32; skipped without one.
import os
import subprocess

import pytest

from conftest import MICROPYTHON32 as MP32
from conftest import NO_MICROPYTHON32, ROOT

pytestmark = pytest.mark.skipif(not os.path.exists(MP32), reason=NO_MICROPYTHON32)


def test_binary_is_32_bit():
    r = subprocess.run([MP32, "-c", "import sys; print(sys.maxsize)"], capture_output=True,
                       text=True, timeout=30)
    assert r.stdout.strip() == str(2**31 - 1)


@pytest.mark.parametrize("pattern", ["freqmeas", "persist"])
def test_firmware_tests_pass_on_32_bit(pattern):
    r = subprocess.run([MP32, "tests/mp_runner.py", pattern], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert " 0 failed" in r.stdout
