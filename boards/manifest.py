# Freeze manifest for a custom board firmware with afrrbox built in (rp2, esp32, stm32 ports):
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/afrrbox/boards/manifest.py
# (likewise ports/esp32 BOARD=ESP32_GENERIC, ports/stm32 BOARD=PYBV11), then copy only main.py
# to the board's filesystem. Frozen modules cost no GC heap for their bytecode: on a 32-bit Unix
# build the default HIL scenario needs about half the heap of the .mpy files (bench footprint).
# ruff: noqa: F821  (include() is provided by MicroPython's tools/manifestfile.py)
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules, as in a stock build
include("manifest_afrr.py")
