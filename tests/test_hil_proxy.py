# The link fault proxy on its own: frames cut by their Modbus length, pass-through, drops,
# flips, latency with order kept, cut, and the unit side swapped as a firmware restart does.
# Waits are on events (bytes received, a counter moved) with a generous overall timeout.
import os
import select
import time

from afrr.modbus import build_request
from hil.link import FaultProxy, Faults, open_pty, reply_length, request_length

WAIT_S = 10.0  # overall limit for an event; a loaded machine only makes waits longer


def _pair(faults=None, seed=1):
    cm, cs, _ = open_pty()  # client side
    um, us, _ = open_pty()  # unit side
    px = FaultProxy(cm, um, faults, seed).start()
    return px, cs, us, [cm, cs, um, us]


def _read_n(fd, n):
    """Read until n bytes came (or WAIT_S passed); returns what came."""
    got = b""
    t_end = time.monotonic() + WAIT_S
    while len(got) < n and (left := t_end - time.monotonic()) > 0:
        if select.select([fd], [], [], min(0.05, left))[0]:
            got += os.read(fd, 4096)
    return got


def _until(cond):
    t_end = time.monotonic() + WAIT_S
    while not cond() and time.monotonic() < t_end:
        time.sleep(0.001)
    return cond()


def _nothing_waiting(fd):
    return not select.select([fd], [], [], 0)[0]


def _close(px, fds):
    px.stop()
    for fd in fds:
        os.close(fd)


def _req(k, n_regs=6):
    return build_request(1, 16, k, n_regs, data=[(k * 7 + i) & 0xFFFF for i in range(n_regs)])


def test_frame_lengths_from_the_header():
    r = _req(3)
    assert request_length(r[:2]) == 0 and request_length(r[:7]) == len(r) == 9 + 12
    assert request_length(b"\x01\x55") == -1
    reply = bytes([1, 4, 6]) + bytes(8)
    assert reply_length(reply[:2]) == 0 and reply_length(reply) == 11
    assert reply_length(bytes([1, 0x84, 2, 0, 0])) == 5
    assert reply_length(bytes([1, 16, 0, 0])) == 8 and reply_length(b"\x01\x55\x00") == -1


def test_pass_through_both_directions():
    px, cs, us, fds = _pair()
    try:
        req = build_request(1, 3, 0, 1)
        os.write(cs, req)
        assert _read_n(us, 8) == req
        reply = bytes([1, 3, 2, 0, 7, 0x11, 0x22])
        os.write(us, reply)
        assert _read_n(cs, 7) == reply
        assert px.stats["req"]["frames"] == 1 and px.stats["resp"]["frames"] == 1
        assert px.stats["req"]["corrupted"] == 0
    finally:
        _close(px, fds)


def test_frames_are_cut_by_length_not_by_reads():
    px, cs, us, fds = _pair()
    try:
        a, b = _req(1), _req(2)
        os.write(cs, a + b + a[:5])  # two whole frames and the head of a third in one write
        assert _read_n(us, len(a) + len(b)) == a + b
        assert px.stats["req"]["frames"] == 2
        os.write(cs, a[5:])  # its tail in another write: still one frame
        assert _read_n(us, len(a)) == a
        assert px.stats["req"]["frames"] == 3 and px.stats["req"]["bytes"] == 2 * len(a) + len(b)
        os.write(cs, b"\x01\x55garbage")  # not a request: forwarded at once as one frame
        assert _read_n(us, 9) == b"\x01\x55garbage" and px.stats["req"]["frames"] == 4
    finally:
        _close(px, fds)


def test_flips_and_drops_are_counted_per_frame():
    f = {"req": Faults(drop_rate=0.02, flip_rate=0.02), "resp": Faults()}
    px, cs, us, fds = _pair(f, seed=5)
    try:
        frames = [_req(k) for k in range(30)]
        os.write(cs, b"".join(frames))  # back to back: the count must not depend on timing
        st = px.stats["req"]
        assert _until(lambda: st["frames"] == 30)
        n_out = sum(len(x) for x in frames) - st["bytes_dropped"]
        got = _read_n(us, n_out)
        assert len(got) == n_out and _nothing_waiting(us)
        assert st["corrupted"] + st["lost"] > 0 and st["bits_flipped"] > 0
        # every frame the proxy left alone arrived whole: 21 bytes each
        untouched = 30 - st["corrupted"] - st["lost"]
        assert 0 < untouched < 30
        assert n_out - st["corrupted_bytes_out"] == untouched * len(frames[0])
    finally:
        _close(px, fds)


def test_latency_delays_and_keeps_order():
    f = {"req": Faults(latency_ms=50, jitter_ms=40), "resp": Faults()}
    px, cs, us, fds = _pair(f)
    try:
        first = build_request(1, 3, 0, 1)
        t0 = time.monotonic()
        os.write(cs, first)
        assert _read_n(us, 8) == first
        assert time.monotonic() - t0 >= 0.010  # 50 - 40 ms at least; load only adds
        frames = [build_request(1, 3, k, 1) for k in range(5)]
        for x in frames:
            os.write(cs, x)
        got = _read_n(us, 40)
        assert got == b"".join(frames)  # jitter never reorders
    finally:
        _close(px, fds)


def test_cut_drops_everything():
    px, cs, us, fds = _pair()
    try:
        px.cut = True
        os.write(cs, build_request(1, 3, 0, 1))
        assert _until(lambda: px.stats["req"]["lost"] == 1)
        px.cut = False
        again = build_request(1, 3, 9, 1)
        os.write(cs, again)
        assert _read_n(us, 8) == again  # the frame sent during the cut never arrives
        assert _nothing_waiting(us)
    finally:
        _close(px, fds)


def test_line_rate_emulation():
    f = {"req": Faults(line_baud=9600), "resp": Faults(line_baud=9600)}
    px, cs, us, fds = _pair(f)
    try:
        req = build_request(1, 16, 0, 20, data=list(range(20)))  # 49 characters: 51 ms
        t0 = time.monotonic()
        os.write(cs, req)
        assert _read_n(us, len(req)) == req
        assert time.monotonic() - t0 >= len(req) * 10 / 9600
    finally:
        _close(px, fds)


def test_unit_side_swapped_while_traffic_flows():
    """A firmware restart: detach, close the unit pty, open a new one (the kernel hands out the
    same fd number), attach. Requests meanwhile are dropped, then the new pty gets traffic."""
    px, cs, us, fds = _pair()
    try:
        old_master = fds[2]
        px.set_unit_fd(None)
        os.close(old_master)
        os.close(us)
        req = build_request(1, 3, 0, 1)
        os.write(cs, req)
        assert _until(lambda: px.unrouted == 1)
        um, us, _ = open_pty()
        fds[2:] = [um, us]
        px.set_unit_fd(um)
        for k in range(20):
            r = build_request(1, 3, k, 1)
            os.write(cs, r)
            assert _read_n(us, 8) == r
            reply = bytes([1, 3, 2, 0, k]) + b"\x00\x00"
            os.write(us, reply)
            assert _read_n(cs, 7) == reply
    finally:
        _close(px, fds)


def test_injected_frames_reply_is_swallowed_whole_when_it_comes_in_pieces():
    # QEMU's UART hands a reply over byte by byte; a stalled emulator makes the proxy cut it
    # into several frames (driven here frame by frame, no relay thread): every piece of the
    # injected frame's reply stays off the client's line, the next reply reaches it whole
    import threading

    cm, cs, _ = open_pty()
    um, us, _ = open_pty()
    px = FaultProxy(cm, um)
    forged = _req(9)
    got = []
    t = threading.Thread(target=lambda: got.append(px.inject(forged, timeout_s=WAIT_S)))
    t.start()
    assert _read_n(us, len(forged)) == forged  # on the unit's line
    refusal = bytes([1, 0x90, 1]) + bytes(2)  # address, FC16 | 0x80, exception 01, CRC
    for piece in (refusal[:1], refusal[1:2], refusal[2:4], refusal[4:]):
        assert t.is_alive()  # still waiting for the rest of the reply
        px._relay("resp", piece)
    t.join(WAIT_S)
    assert got == [True]
    answer = bytes([1, 16, 2, 0, 0, 14, 0, 0])
    px._relay("resp", answer)
    assert _read_n(cs, len(answer)) == answer  # nothing of the refusal before it
    # no reply in time: the proxy lets go, and what comes later reaches the client
    assert px.inject(forged, timeout_s=0) is False
    px._relay("resp", refusal)
    assert _read_n(cs, len(refusal)) == refusal
    assert px.stats["resp"]["frames"] == 2
    for fd in (cm, cs, um, us):
        os.close(fd)
