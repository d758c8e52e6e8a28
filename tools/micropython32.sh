#!/bin/sh
# Build a 32-bit MicroPython Unix port (31-bit small ints and 4-byte objects, as on the boards)
# for the optional checks: AFRR_MICROPYTHON32=<path> enables tests/test_boards_mpy32.py and the
# 32-bit column of bench/bench_footprint.py. Needs git, make and gcc with -m32 (gcc-multilib).
#   sh tools/micropython32.sh [dest-dir] [git-ref]
set -eu
DEST=${1:-build/micropython32}
REF=${2:-master}
if [ ! -d "$DEST/src" ]; then
    git clone --depth 1 --branch "$REF" https://github.com/micropython/micropython "$DEST/src"
fi
make -C "$DEST/src/ports/unix" VARIANT=standard BUILD=build-32 CFLAGS_EXTRA=-m32 \
    LDFLAGS_EXTRA=-m32 MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 FROZEN_MANIFEST= \
    MICROPY_USE_READLINE=0 -j2
echo "AFRR_MICROPYTHON32=$DEST/src/ports/unix/build-32/micropython"
