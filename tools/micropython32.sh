#!/bin/sh
# The 32-bit MicroPython Unix port for the optional checks (31-bit small ints and 4-byte objects,
# as on the boards), now built by tools/build_micropython.py with the rest of the MicroPython
# builds; this wrapper builds only that target and prints the variables the checks read.
set -eu
USAGE="usage: sh tools/micropython32.sh [--help]
Build the 32-bit MicroPython Unix port (plain and with the firmware frozen in) into
build/micropython/ with tools/build_micropython.py --only unix32, and print the
AFRR_MICROPYTHON32 and AFRR_MICROPYTHON32_FROZEN paths. The tests and the footprint bench find
the build there by themselves. Source: \$MICROPYTHON_SRC (a tarball or a source tree), else a
clone of v1.28.0. Needs make and gcc -m32 (gcc-multilib)."
case "${1:-}" in
    -h|--help) echo "$USAGE"; exit 0 ;;
    "") ;;
    *) echo "micropython32.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY="$HERE/.venv/bin/python"
[ -x "$PY" ] || PY=python3
exec "$PY" "$HERE/tools/build_micropython.py" --only unix32 --print-env
