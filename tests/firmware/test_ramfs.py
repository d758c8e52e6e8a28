# hal.ramfs: the RAM block device and the littlefs mount of the emulated board; hal.store on it.
# Runs under pytest and the Unix port (whose vfs has VfsLfs2: there the store really writes,
# renames and reads back on littlefs in RAM).
from hal import ramfs
from hal.store import ST_EMPTY, ST_OK, StateStore
from hal.store_load import open_store

from afrr import persist
from afrr.config import Config
from afrr.controller import Controller


class Board:
    NAME = "test_ram"
    STATE_PATH = "/afrr_test_ram/state.bin"
    RAM_FS_BLOCKS = 24


class NoLfsVfs:
    """A vfs module of a build without littlefs."""

    def mount(self, fs, point):
        raise AssertionError("nothing may be mounted")


def test_block_device_reads_back_at_offsets():
    dev = ramfs.RAMBlockDev(256, 4)
    assert dev.ioctl(4, 0) == 4 and dev.ioctl(5, 0) == 256 and dev.ioctl(6, 1) == 0
    dev.writeblocks(2, b"\x01\x02\x03", 10)
    buf = bytearray(5)
    dev.readblocks(2, buf, 9)
    assert bytes(buf) == b"\x00\x01\x02\x03\x00"
    dev.writeblocks(3, b"\xff" * 256)  # simple interface: a whole block, no offset
    dev.readblocks(3, buf, 251)
    assert bytes(buf) == b"\xff" * 5
    assert dev.data[2 * 256 + 10] == 1 and len(dev.data) == 1024


def test_a_build_without_littlefs_has_no_storage():
    ramfs._mounted = None
    line = ramfs.mount(Board, NoLfsVfs())
    assert line.startswith("no storage:") and "MICROPY_VFS_LFS2" in line
    assert ramfs._mounted is None  # a later mount with littlefs may still succeed


def test_state_round_trip_on_ram_littlefs():
    try:
        import vfs
    except ImportError:  # CPython: no littlefs; the Unix port runs the rest
        return
    ramfs._mounted = None
    line = ramfs.mount(Board)
    try:
        assert line == "littlefs on a 6144-byte RAM block device at /afrr_test_ram"
        assert ramfs.mount(Board) is line  # mounted once
        store = open_store(Board)
        assert isinstance(store, StateStore) and store.path == Board.STATE_PATH
        assert store.load() is None and store.status == ST_EMPTY
        cfg = Config(rating_kw=1000, band_up_kw=1000, band_down_kw=1000, cap_kwh=2000)
        ctl = Controller(cfg)
        words = ctl.state_words()
        for _ in range(5):  # every save renames: PATH -> PATH.bak, PATH.tmp -> PATH
            store.save(words, persist.config_words(cfg))
        again = StateStore(Board.STATE_PATH)
        seq, got, cfg2 = again.load()
        assert again.status == ST_OK and seq == 5 and list(got) == list(words)
        assert cfg2.rating_kw == 1000
    finally:
        vfs.umount("/afrr_test_ram")
        ramfs._mounted = None
