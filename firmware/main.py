# Entry point: a board runs this file from source at boot. app.start() (firmware/app.py) builds
# the unit and drops its start-only modules from sys.modules; `del app` lets go of the last
# reference, so their code leaves the heap before the loop runs. Options: see app.py.
import sys

import app

r = app.start(sys.argv[1:])
del app
sys.exit(r if isinstance(r, int) else r.run())
