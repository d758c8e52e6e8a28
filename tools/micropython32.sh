#!/bin/sh
# Build a 32-bit MicroPython Unix port (31-bit small ints and 4-byte objects, as on the boards)
# for the optional checks: AFRR_MICROPYTHON32=<path> enables tests/test_boards_mpy32.py and the
# 32-bit columns of bench/bench_footprint.py; a second build with afrr/hal/boards frozen in
# (boards/manifest_afrr.py) gives AFRR_MICROPYTHON32_FROZEN for the frozen-firmware column.
# Needs git, make and gcc with -m32 (gcc-multilib).
#   sh tools/micropython32.sh [dest-dir] [git-ref]
set -eu
USAGE="usage: sh tools/micropython32.sh [dest-dir] [git-ref]
Build a 32-bit MicroPython Unix port (plain and with the firmware frozen in) for the optional
32-bit checks. dest-dir defaults to build/micropython32, git-ref to master. Needs git, make and
gcc -m32 (gcc-multilib). Prints the AFRR_MICROPYTHON32 and AFRR_MICROPYTHON32_FROZEN paths."
case "${1:-}" in
    -h|--help) echo "$USAGE"; exit 0 ;;
    -*) echo "micropython32.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
DEST=${1:-build/micropython32}
REF=${2:-master}
if [ ! -d "$DEST/src" ]; then
    git clone --depth 1 --branch "$REF" https://github.com/micropython/micropython "$DEST/src"
fi
HERE=$(cd "$(dirname "$0")/.." && pwd)
OPTS="VARIANT=standard CFLAGS_EXTRA=-m32 LDFLAGS_EXTRA=-m32 MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0
      MICROPY_PY_FFI=0 MICROPY_USE_READLINE=0"
make -C "$DEST/src/mpy-cross" -j2
make -C "$DEST/src/ports/unix" $OPTS BUILD=build-32 FROZEN_MANIFEST= -j2
# freezing checks that micropython-lib is present even when the manifest needs nothing from it
git -C "$DEST/src" submodule update --init --depth 1 lib/micropython-lib
make -C "$DEST/src/ports/unix" $OPTS BUILD=build-32f FROZEN_MANIFEST="$HERE/boards/manifest_afrr.py" -j2
echo "AFRR_MICROPYTHON32=$DEST/src/ports/unix/build-32/micropython"
echo "AFRR_MICROPYTHON32_FROZEN=$DEST/src/ports/unix/build-32f/micropython"
