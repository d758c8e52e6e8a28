# The key store's sequence floor (firmware/hal/keystore.py) on a file system in a dict: a floor
# file that is there but damaged never reopens replays. Which file wins, what counts as damaged,
# and what the unit does then (every command refused, status bit ST_STATE_FAULT), on CPython and
# the Unix port.
from app import compose
from hal.keystore import load_auth

from afrr import regmap
from afrr.auth import CMD_SETPOINT, CMD_UNLOCK, RESERVE

try:
    from test_auth import KEY, KID, frame, ok, refused, request, xfer  # both runtimes
except ImportError:  # imported as tests.firmware.test_keystore
    from tests.firmware.test_auth import KEY, KID, frame, ok, refused, request, xfer

TOP = 0xFFFFFFFF  # the top floor: no sequence number is above it
PATH = "/flash/afrr.key"
SEQ = PATH + ".seq"
TMP = PATH + ".seq.tmp"
KEYTEXT = ("%d " % KID + "".join("%02x" % b for b in KEY) + "\n").encode()
# what a floor file may hold that is no floor: empty (a write cut before its first byte), not
# decimal, signed, with blanks, above 2**32 - 1, far too long, flash garbage
DAMAGED = (b"", b"12a", b"-5", b" 12", b"12\n", b"1e3", b"0x10", b"4294967296",
           b"99999999999", b"1" * 40, b"\xff\xff\xff\xff")


class _File:
    def __init__(self, fs, path, data):
        self.fs = fs
        self.path = path
        self.data = data

    def read(self):
        return self.data

    def write(self, b):
        self.fs.files[self.path] = self.fs.files[self.path] + bytes(b)
        return len(b)

    def close(self):
        pass


class FakeFs:
    """Files in a dict; a value None is a file that is there but cannot be read (EIO)."""

    def __init__(self, files):
        self.files = dict(files)

    def open(self, path, mode):
        if "w" in mode:
            self.files[path] = b""
            return _File(self, path, None)
        if path not in self.files:
            raise OSError(2)  # ENOENT
        if self.files[path] is None:
            raise OSError(5)  # EIO
        return _File(self, path, self.files[path])

    def remove(self, path):
        if path not in self.files:
            raise OSError(2)
        del self.files[path]

    def rename(self, a, b):
        self.files[b] = self.files.pop(a)


SAID = []  # the unit's one-line errors, kept out of the test output


def _load(fs):
    del SAID[:]
    return load_auth(PATH, fs=fs, opener=fs.open, say=SAID.append)


def _fs(**floors):
    files = {PATH: KEYTEXT}
    for name, data in floors.items():
        files[{"seq": SEQ, "tmp": TMP}[name]] = data
    return FakeFs(files)


def _unit(a):
    class Board:
        UNIT_DEFAULTS = {"rating_kw": 1000, "band_up_kw": 1000, "band_down_kw": 1000,
                         "cap_kwh": 2000}

    app = compose(Board, 1, auth=a)
    return app.rtu, app.bank


def test_absent_floor_files_mean_a_first_deployment():
    fs = _fs()
    a = _load(fs)
    assert a.key == KEY and a.floor == 0 and SAID == []
    assert a.check(1, frame(1, 1, CMD_SETPOINT, 5), 0)
    assert fs.files[SEQ] == b"%d" % (1 + RESERVE)
    rtu, bank = _unit(_load(_fs()))
    assert not bank.status & regmap.ST_STATE_FAULT


def test_a_damaged_floor_alone_refuses_everything():
    for data in DAMAGED + (None,):  # None: there, but unreadable
        a = _load(_fs(seq=data))
        assert a.floor == TOP, data
        assert SAID == ["error: %s: no valid sequence floor: commands refused until one is "
                        "deployed" % SEQ], SAID
        for seq in (1, 2, RESERVE + 1, 0x7FFFFFFF, TOP - 1, TOP):
            assert not a.check(1, frame(1, seq, CMD_SETPOINT, 5), 0), (data, seq)
    # the same for a damaged KEY.seq.tmp left alone (a cut while it was written, and the
    # old floor lost too)
    for data in DAMAGED:
        assert _load(_fs(tmp=data)).floor == TOP, data


def test_the_valid_floor_file_wins_over_a_damaged_one():
    for data in DAMAGED + (None,):
        assert _load(_fs(seq=data, tmp=b"8200")).floor == 8200, data
        assert _load(_fs(seq=b"8200", tmp=data)).floor == 8200, data
        assert SAID == []  # one valid floor: nothing to report
    assert _load(_fs(seq=b"100", tmp=b"250")).floor == 250  # both valid: the higher
    assert _load(_fs(seq=b"4294967295")).floor == TOP  # the top itself is a number
    assert _load(_fs(seq=b"0")).floor == 0 and _load(_fs(seq=b"0007")).floor == 7


def test_both_floor_files_damaged_refuse_everything():
    for data in DAMAGED:
        assert _load(_fs(seq=data, tmp=b"x")).floor == TOP, data
    assert _load(_fs(seq=None, tmp=None)).floor == TOP


def test_no_replay_after_a_restart_on_a_damaged_floor():
    fs = _fs()
    rtu, bank = _unit(_load(fs))
    first = request(1, frame(1, 5, CMD_SETPOINT, 300))
    second = request(1, frame(1, 6, CMD_SETPOINT, -200))
    assert ok(xfer(rtu, first)) and ok(xfer(rtu, second))
    assert fs.files[SEQ] == b"%d" % (5 + RESERVE) and bank.ctl.meas.remote_sp_kw == -200
    # the floor file is damaged while the unit is off; it restarts
    fs.files[SEQ] = b"41\x00\x00"
    rtu, bank = _unit(_load(fs))
    assert bank.status & regmap.ST_STATE_FAULT and bank.status & 0x0010  # keyed, faulted
    for req in (first, second, request(1, frame(1, 7, CMD_SETPOINT, 300)),
                request(1, frame(1, 5 + RESERVE + 1, CMD_SETPOINT, 300)),
                request(1, frame(1, TOP, CMD_SETPOINT, 300)),
                request(1, frame(1, 8, CMD_UNLOCK, 60000))):
        assert refused(xfer(rtu, req))
    assert bank.auth_rejects == 6 and bank.ctl.meas.remote_sp_kw == 0
    assert bank.auth.unlock_ms == 0 and bank.remote_seq == 0
    assert fs.files[SEQ] == b"41\x00\x00"  # nothing rewrote it
    # a deployment writes a floor above every number used (tools/deploy.py --floor): the unit
    # takes commands above it again, and still none of the old ones
    fs.files[SEQ] = fs.files[TMP] = b"9000"
    rtu, bank = _unit(_load(fs))
    assert not bank.status & regmap.ST_STATE_FAULT
    assert refused(xfer(rtu, first)) and refused(xfer(rtu, second))
    assert ok(xfer(rtu, request(1, frame(1, 9001, CMD_SETPOINT, 100))))
    assert bank.ctl.meas.remote_sp_kw == 100 and fs.files[SEQ] == b"%d" % (9001 + RESERVE)
    assert TMP not in fs.files
