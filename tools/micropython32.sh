#!/bin/sh
# The 32-bit MicroPython Unix port for the optional checks (31-bit small ints and 4-byte objects,
# as on the boards), now built by tools/build_micropython.py with the rest of the MicroPython
# builds; this wrapper builds only that target and prints the variables the checks read.
#   sh tools/micropython32.sh [--help]
# Source: $MICROPYTHON_SRC (a tarball or a source tree), else a clone of v1.28.0.
# Needs make and gcc with -m32 (gcc-multilib). The tests and the footprint bench find the build
# in build/micropython/ by themselves; AFRR_MICROPYTHON32[_FROZEN] point them elsewhere.
set -eu
case "${1:-}" in
    -h|--help)
        sed -n '2,8s/^# \{0,1\}//p' "$0"
        exit 0 ;;
    "") ;;
    *)
        echo "error: unknown argument $1 (see --help)" >&2
        exit 2 ;;
esac
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY="$HERE/.venv/bin/python"
[ -x "$PY" ] || PY=python3
exec "$PY" "$HERE/tools/build_micropython.py" --only unix32 --print-env
