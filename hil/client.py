# The rig's Modbus side: pymodbus RTU client over serial_for_url, speaking firmware/afrr/regmap.py.
import logging
import time

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from afrr import regmap
from afrr.config import FIELDS
from hil import auth, regcodec

# pymodbus logs every timeout at ERROR through the root logger: the rig counts them instead.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL + 1)
logging.getLogger("pymodbus").propagate = False

class ClientError(Exception):
    pass

def make_client(url, baud=115200, timeout=0.2):
    """A pymodbus RTU client on any pyserial URL (pty path, /dev/ttyACM0, socket://...)."""
    return ModbusSerialClient(url, framer=FramerType.RTU, baudrate=baud, timeout=timeout,
                              retries=0, reconnect_delay=0)

class Unit:
    """One firmware unit seen through the register map."""

    def __init__(self, client, unit_id=1):
        self.c = client
        self.unit_id = unit_id
        self.failures = 0  # transactions without a valid answer
        self.last_error = ""
        self.transactions = 0
        self.signer = None  # hil.auth.Signer when the unit has a key: commands are signed
        self.last_command = None  # registers of the last accepted signed command
        self.last_sp = 0  # kW, the last set-point the unit accepted from this rig

    def connect(self):
        if not self.c.connect():
            raise ClientError("cannot open %s" % self.c.comm_params.host)
        return self

    def close(self):
        self.c.close()

    def wait_ready(self, timeout_s=10.0, alive=None):
        """Poll until the firmware answers (it takes a moment to start).

        `alive`: optional callable; when it returns False the firmware process has exited.
        """
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            if alive is not None and not alive():
                raise ClientError("firmware exited at start")
            try:
                r = self.c.read_input_registers(regcodec.input_by_name("fw_version")[0], count=1,
                                                device_id=self.unit_id)
                if not r.isError():
                    return r.registers[0]
            except ModbusException:
                pass
            time.sleep(0.05)
        raise ClientError("firmware did not answer within %.0f s" % timeout_s)

    def _ok(self, r):
        self.transactions += 1
        if r is None or r.isError():
            self.failures += 1
            code = getattr(r, "exception_code", None)
            self.last_error = "exception %02d" % code if code else "no valid answer"
            return False
        return True

    def _call(self, fn, **kw):
        try:
            r = fn(device_id=self.unit_id, **kw)
        except ModbusException:
            r = None
        return r if self._ok(r) else None

    def request(self, fn, **kw):
        """One request through a method of the client (e.g. c.read_input_registers) to this
        unit: the response, or None without a valid answer (counted, reason in last_error)."""
        return self._call(fn, **kw)

    def write_config(self, values):
        """Write the whole config block in one FC16 (cross-field rules hold as a whole)."""
        regs = []
        for name, _lo, _hi, _d, _u in FIELDS:
            regs += regcodec.s32_words(int(values[name]))
        if self.signer is not None and not auth.send(self, auth.CMD_UNLOCK, 60000):
            raise ClientError("the unit refused the unlock (%s; 01: wrong key, 04: no heap for "
                              "the MAC)" % self.last_error)
        r = self._call(self.c.write_registers, address=regmap.CFG_BASE, values=regs)
        if self.signer is not None:
            auth.send(self, auth.CMD_UNLOCK, 0)  # close the write lock again
        if r is None:
            raise ClientError("configuration not accepted (%s; exception 03 = a value outside "
                              "its range or a cross-field rule)" % self.last_error)

    def read_config(self):
        r = self._call(self.c.read_holding_registers, address=regmap.CFG_BASE,
                       count=regmap.CFG_COUNT)
        if r is None:
            return None
        w = r.registers
        return {f[0]: regcodec.words_s32(w[2 * i], w[2 * i + 1]) for i, f in enumerate(FIELDS)}

    def set_mode(self, mode):
        if self.signer is not None:
            return auth.send(self, auth.CMD_MODE, mode)
        return self._call(self.c.write_register, address=regcodec.holding_by_name("mode")[0],
                          value=mode) is not None

    def send_setpoint(self, sp_kw):
        if self.signer is not None:
            return auth.send(self, auth.CMD_SETPOINT, int(sp_kw))
        a = regcodec.holding_by_name("remote_sp_kw")[0]
        return self._call(self.c.write_registers, address=a,
                          values=list(regcodec.s32_words(int(sp_kw)))) is not None

    def lockstep(self, values, timed=True):
        """One FC23: write the measurement block (incl. sim_time_ms), read all outputs.

        timed False: without sim_time_ms (a unit on its own clock refuses it).
        Returns the outputs as a dict, or None when the transaction failed.
        """
        regs = regcodec.encode_holding(values)
        if not timed:
            regs = regs[:regcodec.holding_by_name("sim_time_ms")[0]]
        r = self._call(self.c.readwrite_registers, read_address=regmap.MIRROR_BASE,
                       read_count=regmap.INPUT_COUNT,
                       write_address=regmap.LOCKSTEP_WRITE_ADDR, values=regs)
        if r is None or len(r.registers) != regmap.INPUT_COUNT:
            return None
        return regcodec.decode_input(r.registers)

    def read_outputs(self):
        r = self._call(self.c.read_input_registers, address=0, count=regmap.INPUT_COUNT)
        return None if r is None else regcodec.decode_input(r.registers)
