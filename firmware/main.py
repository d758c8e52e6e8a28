# Entry point of the unit firmware: a board runs this file from source at boot, so it only calls
# app.main() (firmware/app.py, compiled to app.mpy by tools/build_firmware.py), where the
# composition root lives. Usage and options: see app.py.
import sys

from app import main

sys.exit(main(sys.argv[1:]))
