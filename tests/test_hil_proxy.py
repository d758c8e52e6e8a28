# The link fault proxy on its own: pass-through, drops, flips, latency with order kept, cut.
import os
import select
import time

from hil.link import FaultProxy, Faults, open_pty


def _pair(faults=None, seed=1):
    cm, cs, _ = open_pty()  # client side
    um, us, _ = open_pty()  # unit side
    px = FaultProxy(cm, um, faults, seed).start()
    return px, cs, us, (cm, cs, um, us)


def _read_for(fd, seconds):
    got = b""
    t_end = time.monotonic() + seconds
    while (left := t_end - time.monotonic()) > 0:
        r, _, _ = select.select([fd], [], [], min(0.01, left))
        if r:
            got += os.read(fd, 4096)
    return got


def _close(px, fds):
    px.stop()
    for fd in fds:
        os.close(fd)


def test_pass_through_both_directions():
    px, cs, us, fds = _pair()
    try:
        os.write(cs, b"\x01\x03abc")
        assert _read_for(us, 0.1) == b"\x01\x03abc"
        os.write(us, b"reply")
        assert _read_for(cs, 0.1) == b"reply"
        assert px.stats["req"]["frames"] == 1 and px.stats["resp"]["frames"] == 1
        assert px.stats["req"]["corrupted"] == 0
    finally:
        _close(px, fds)


def test_flips_and_drops_are_counted_per_frame():
    f = {"req": Faults(drop_rate=0.2, flip_rate=0.2), "resp": Faults()}
    px, cs, us, fds = _pair(f, seed=5)
    try:
        sent = []
        for k in range(30):
            frame = bytes(range(k, k + 20))
            sent.append(frame)
            os.write(cs, frame)
            time.sleep(0.005)
        got = _read_for(us, 0.2)
        st = px.stats["req"]
        assert st["frames"] == 30
        assert len(got) == 30 * 20 - st["bytes_dropped"]
        assert st["corrupted"] + st["lost"] > 0 and st["bits_flipped"] > 0
    finally:
        _close(px, fds)


def test_latency_delays_and_keeps_order():
    f = {"req": Faults(latency_ms=50, jitter_ms=40), "resp": Faults()}
    px, cs, us, fds = _pair(f)
    try:
        os.write(cs, b"x")
        assert _read_for(us, 0.005) == b""  # at least 10 ms late
        for k in range(5):
            os.write(cs, bytes([k]) * 3)
            time.sleep(0.002)
        got = _read_for(us, 0.3)
        assert got == b"x" + b"".join(bytes([k]) * 3 for k in range(5))  # jitter never reorders
    finally:
        _close(px, fds)


def test_cut_drops_everything():
    px, cs, us, fds = _pair()
    try:
        px.cut = True
        os.write(cs, b"hello")
        assert _read_for(us, 0.05) == b""
        assert px.stats["req"]["lost"] == 1
        px.cut = False
        os.write(cs, b"again")
        assert _read_for(us, 0.1) == b"again"
    finally:
        _close(px, fds)


def test_line_rate_emulation():
    f = {"req": Faults(line_baud=9600), "resp": Faults(line_baud=9600)}
    px, cs, us, fds = _pair(f)
    try:
        t0 = time.monotonic()
        os.write(cs, bytes(48))  # 48 characters at 9600 baud: 50 ms on the line
        assert _read_for(us, 0.03) == b""
        got = _read_for(us, 0.2)
        assert got == bytes(48) and time.monotonic() - t0 >= 0.05
    finally:
        _close(px, fds)
