# The null responder of bench_hil on the MicroPython Unix port: the firmware's process kind and its
# pty link (hal/unix_pty.PtyPort), none of its work. Answers every lock-step FC23 request at once
# with zero outputs, except sim_time_ms copied from the request (the rig checks that a reply
# answers the step it asked), and the reply's CRC.
#   micropython bench/mpy_null.py PTY      prints "ready" once the pty is open
import sys

sys.path.insert(0, "firmware")  # afrr/ and hal/, from the repository root

from afrr import regmap  # noqa: E402
from afrr.modbus import build_request, crc16  # noqa: E402


def _reg(table, name):
    for row in table:
        if row[1] == name:
            return row[0]
    raise ValueError(name)


def layout():
    """(canned reply, its length less the CRC, request length, offset of sim_time_ms in the
    request, offset in the reply): what a null responder needs (also bench_hil's CPython one)."""
    # unit 1, FC23, byte count, registers, CRC: the layout build_request gives a data block
    reply = bytearray(build_request(1, 23, data=[0] * regmap.INPUT_COUNT))
    t_req = 11 + 2 * (_reg(regmap.HOLDING, "sim_time_ms") - regmap.LOCKSTEP_WRITE_ADDR)
    t_rep = 3 + 2 * _reg(regmap.INPUT, "sim_time_ms")
    return reply, len(reply) - 2, 13 + 2 * regmap.LOCKSTEP_WRITE_COUNT, t_req, t_rep


def serve(path):
    from hal.unix_pty import PtyPort

    port = PtyPort(path)
    reply, n, need, t_req, t_rep = layout()
    buf = bytearray(256)
    more = bytearray(64)
    got = 0
    print("ready")
    while True:
        if not port.wait(100):
            continue
        if got:  # the rest of a request that came in pieces
            k = port.readinto(more)
            for i in range(k):
                if got < len(buf):
                    buf[got] = more[i]
                    got += 1
        else:
            got = port.readinto(buf)
        while got >= need:
            for i in range(4):
                reply[t_rep + i] = buf[t_req + i]
            c = crc16(reply, n, 0)
            reply[n] = c & 0xFF
            reply[n + 1] = c >> 8
            port.write(reply, n + 2)
            for i in range(need, got):  # (requests back to back: keep what followed)
                buf[i - need] = buf[i]
            got -= need


if __name__ == "__main__":
    from hal.unix_pty import LinkClosed

    try:
        serve(sys.argv[1])
    except LinkClosed:  # the bench closed the link: done
        pass
