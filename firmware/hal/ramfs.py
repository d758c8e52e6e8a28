# littlefs on a block device in RAM, for persisted state on a board without flash (the emulated
# MPS2 board): the state then survives a firmware restart but not the end of the QEMU process.
#
# mount(board) mounts it once at the folder of board.STATE_PATH with board.RAM_FS_BLOCKS blocks
# and returns one line saying what the store has; "no storage: ..." when the MicroPython build
# has no littlefs (vfs.VfsLfs2, the make option MICROPY_VFS_LFS2=1): hal.store then gives no
# store and the firmware runs without persisted state.

BLOCK_SIZE = 256  # bytes; littlefs takes blocks of 128 bytes or more
_mounted = None  # the line mount() returned, once mounted


class RAMBlockDev:
    """Block device in a bytearray, with the extended interface littlefs uses (offsets)."""

    def __init__(self, block_size, blocks):
        self.block_size = block_size
        self.blocks = blocks
        self.data = bytearray(block_size * blocks)

    def readblocks(self, block, buf, offset=0):
        a = block * self.block_size + offset
        buf[:] = memoryview(self.data)[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=None):
        a = block * self.block_size + (offset or 0)
        memoryview(self.data)[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase a block: nothing to do in RAM
            return 0
        return 0  # init, deinit, sync


def mount(board, vfs=None):
    """Mount the RAM littlefs at the folder of board.STATE_PATH (once); one line on the store."""
    global _mounted
    if _mounted is not None:
        return _mounted
    if vfs is None:
        import vfs
    if not hasattr(vfs, "VfsLfs2"):
        return "no storage: this MicroPython build has no littlefs (MICROPY_VFS_LFS2)"
    point = board.STATE_PATH.rsplit("/", 1)[0] or "/"
    dev = RAMBlockDev(BLOCK_SIZE, board.RAM_FS_BLOCKS)
    try:
        vfs.VfsLfs2.mkfs(dev)
        vfs.mount(vfs.VfsLfs2(dev), point)
    except OSError as e:
        return "no storage: cannot mount littlefs in RAM at %s (%s)" % (point, e)
    _mounted = "littlefs on a %d-byte RAM block device at %s" % (len(dev.data), point)
    return _mounted
