# afrrbox host side (CPython): grid emulator, plant model, metrics, market; `python -m host`.
