# Entry point: a board runs this file from source at boot. app.start() (firmware/app.py) builds
# the unit and drops its start-only modules; `del app` lets their code leave the heap before the
# loop runs. The GC threshold: see app.py. Options: see app.py.
import gc
import sys

gc.threshold(256)
import app  # noqa: E402 (after the threshold: loading the modules allocates)

r = app.start(sys.argv[1:])
del app
sys.exit(r if isinstance(r, int) else r.run())
