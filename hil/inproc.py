# The `cpython` target: the firmware's own modules (register bank, Modbus RTU codec, controller)
# run in this process under CPython, with no serial line and no MicroPython process.
#
# What it is for: emulator-only runs and sweeps, where thousands of simulated days must be
# cheap. The control code is the very code a board runs (firmware/afrr, composed by
# firmware/app.compose exactly as main.py does), and it is bit-identical between CPython and the
# Unix port (tests/test_mpy_runtime.py), so a run here gives the set-points the rig would get.
# Every transaction still goes through Modbus RTU frames: the request is built with the
# firmware's own build_request, handed to the firmware's RTU server, and its reply decoded, so
# register semantics (ranges, exceptions, lock-step time) are the ones on the wire.
# What it does not test: the link (pty, framing at silences, faults, restarts): use --target unix.
import struct

from afrr.modbus import build_request

_FC_READ_HOLDING = 3
_FC_READ_INPUT = 4
_FC_WRITE_SINGLE = 6
_FC_WRITE_MULTIPLE = 16
_FC_READ_WRITE = 23


class _Reply:
    """What the rig's client looks at in a pymodbus response."""

    def __init__(self, registers=(), exception_code=None):
        self.registers = list(registers)
        self.exception_code = exception_code

    def isError(self):  # noqa: N802  (pymodbus's name)
        return self.exception_code is not None


class _Params:
    host = "cpython (in-process firmware)"


class InProcessClient:
    """The subset of pymodbus's sync client that hil.client.Unit calls, served by an
    in-process firmware RTU server."""

    comm_params = _Params()

    def __init__(self, rtu):
        self.rtu = rtu

    def connect(self):
        return True

    def close(self):
        pass

    def _transact(self, frame, device_id):
        rtu = self.rtu
        rtu.feed_bytes(frame)
        n = rtu.complete()
        if not rtu.handled:  # cannot happen for a frame we built; keep the bank consistent
            n = rtu.at_silence()
        if device_id == 0 or n == 0:
            return _Reply()
        reply = bytes(rtu.tx[:n])
        if reply[1] & 0x80:
            return _Reply(exception_code=reply[2])
        if reply[1] in (_FC_READ_HOLDING, _FC_READ_INPUT, _FC_READ_WRITE):
            count = reply[2] // 2
            return _Reply(struct.unpack(">%dH" % count, reply[3:3 + 2 * count]))
        return _Reply()

    def read_holding_registers(self, address, count=1, device_id=1):
        return self._transact(build_request(device_id, _FC_READ_HOLDING, address, count),
                              device_id)

    def read_input_registers(self, address, count=1, device_id=1):
        return self._transact(build_request(device_id, _FC_READ_INPUT, address, count),
                              device_id)

    def write_register(self, address, value, device_id=1):
        return self._transact(build_request(device_id, _FC_WRITE_SINGLE, address, value),
                              device_id)

    def write_registers(self, address, values, device_id=1):
        values = list(values)
        return self._transact(build_request(device_id, _FC_WRITE_MULTIPLE, address, len(values),
                                            data=values), device_id)

    def readwrite_registers(self, read_address=0, read_count=0, write_address=0, values=(),
                            device_id=1):
        values = list(values)
        return self._transact(build_request(device_id, _FC_READ_WRITE, read_address, read_count,
                                            write_address, len(values), data=values), device_id)


class InProcessLink:
    """Stands where hil.link.Link stands for the `cpython` target: no proxy, no process."""

    proxy = None
    firmware = None
    client_path = None

    def __init__(self, unit=1, auth=None):
        from app import compose

        import boards.unix as board

        self.app = compose(board, unit=unit, auth=auth)  # auth: an afrr.auth.Auth, or open
        self.client = InProcessClient(self.app.rtu)

    def open(self):
        pass

    def close(self):
        """The firmware's output (none: it prints nothing while serving)."""
        return ""
