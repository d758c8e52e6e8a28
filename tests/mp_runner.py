# Runs the plain test_* functions in tests/firmware/ under the MicroPython Unix port.
# Usage: micropython tests/mp_runner.py [name-substring]
import os
import sys

sys.path.insert(0, "firmware")
sys.path.insert(0, "tests/firmware")
sys.path.insert(0, "hil")  # hil/regcodec.py: host-side register helpers, pure


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    names = sorted(n for n in os.listdir("tests/firmware")
                   if n.startswith("test_") and n.endswith(".py"))
    passed = failed = 0
    for fname in names:
        mod_name = fname[:-3]
        mod = __import__(mod_name)
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            if pattern and pattern not in mod_name + "." + attr:
                continue
            fn = getattr(mod, attr)
            if not callable(fn):
                continue
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - report every failure, keep going
                failed += 1
                print("FAIL", mod_name + "." + attr)
                sys.print_exception(e)
            else:
                passed += 1
    print("micropython: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
