# Freeze manifest fragment: the firmware packages and the board data, for a custom MicroPython
# build (see boards/manifest.py). Frozen bytecode runs from flash instead of the GC heap.
# ruff: noqa: F821  (package() is provided by MicroPython's tools/manifestfile.py)
module("app.py", base_path="../firmware")  # composition root; main.py imports it
package("afrr", base_path="../firmware")
package("hal", base_path="../firmware")
package("boards", files=["__init__.py", "unix.py", "rp2_pico.py", "esp32_devkit.py",
                         "pyboard_v11.py", "qemu_mps2.py"], base_path="..")
