# Serial HIL rig: drives the firmware over Modbus RTU against the grid emulator; scenarios, reports.
#
# Importing the package puts firmware/ on sys.path, so the rig imports the very register map
# (afrr.regmap) that the firmware runs: one table, no second copy on the host side.
import pathlib
import sys

FIRMWARE = str(pathlib.Path(__file__).resolve().parent.parent / "firmware")
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)

from afrr import regmap  # noqa: E402,F401  (re-exported: `from hil import regmap` on the host)
