# The serial link of the rig: pty pairs, the firmware process on the Unix port, and the fault proxy.
#
# Topology for `--target unix` (the firmware is the mpy-cross build of the unix board, made by
# tools/build_firmware.py into a temporary folder on first start; `source=True` runs firmware/):
#   pymodbus client --serial_for_url(client pty)--> [FaultProxy thread] --(unit pty)--> firmware
# The proxy always sits in the path (a pass-through when no fault is configured): it is where
# byte drops, bit flips, latency, jitter and link cuts are injected, and it counts what it did,
# frame by frame, so the rig can compare with the firmware's own error counters.
import importlib.util
import os
import pathlib
import random
import select
import subprocess
import tempfile
import threading
import time
import tty

from afrr.modbus import frame_length

ROOT = pathlib.Path(__file__).resolve().parent.parent
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
FIRMWARE_MAIN = ROOT / "firmware" / "main.py"
BUILD_TOOL = ROOT / "tools" / "build_firmware.py"


class LinkError(Exception):
    """A one-line problem with the link (no device, firmware did not start)."""


def open_pty():
    """(master fd, slave fd, slave path) in raw mode."""
    m, s = os.openpty()
    tty.setraw(s)
    tty.setraw(m)
    return m, s, os.ttyname(s)


def _nonblocking(*fds):
    for fd in fds:
        os.set_blocking(fd, False)


def _close_fds(*fds):
    """Close each fd that is not None; one already closed is no error."""
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


class Faults:
    """Per-direction fault settings (rates per byte, times in ms)."""

    def __init__(self, drop_rate=0.0, flip_rate=0.0, latency_ms=0.0, jitter_ms=0.0,
                 line_baud=0):
        self.drop_rate = float(drop_rate)
        self.flip_rate = float(flip_rate)
        self.latency_ms = float(latency_ms)
        self.jitter_ms = float(jitter_ms)
        self.line_baud = int(line_baud)  # > 0: emulate a half-duplex UART line (10 bits a byte)

    def active(self):
        return bool(self.drop_rate or self.flip_rate or self.latency_ms or self.jitter_ms)


def request_length(buf):
    """Length of the Modbus RTU request at the start of buf from its header; 0 unknown yet,
    -1 unknowable (not a request the firmware serves)."""
    return frame_length(buf, len(buf))


def reply_length(buf):
    """Length of the Modbus RTU reply at the start of buf from its header; 0 unknown yet,
    -1 unknowable."""
    if len(buf) < 3:
        return 0
    fc = buf[1]
    if fc & 0x80:
        return 5  # exception: address, function | 0x80, code, CRC
    if fc in (0x03, 0x04, 0x17):
        return 5 + buf[2]
    if fc in (0x06, 0x10):
        return 8
    return -1


_KEEP = object()  # FaultProxy._swap: no unit fd change pending


class FaultProxy:
    """Relays bytes between two pty masters, injecting faults; counts frames it altered.

    A "frame" is one Modbus RTU frame: the proxy cuts what it reads into frames by their
    length from the header (requests client->unit, replies unit->client), so a frame that a
    pty hands over in two reads, or two frames in one read, are counted and forwarded frame by
    frame, whatever the scheduling. Bytes that cannot start a frame (an unknown function code)
    are forwarded at once as one frame; a frame still short by its header's length after
    PARTIAL_S is forwarded as it is (the other end then sees its silence). Each frame reaches
    the other side in one write. Counters per direction ('req' client->unit, 'resp'
    unit->client): frames, corrupted (altered, some bytes left), lost (every byte dropped, or
    cut), bytes_dropped, bits_flipped, corrupted_bytes_out (bytes of altered frames that still
    reached the other side). `unrouted`: request frames read while the unit side was detached
    (firmware restarting), dropped and not counted as faults.
    """

    PARTIAL_S = 0.05

    def __init__(self, client_fd, unit_fd, faults=None, seed=1):
        # Non-blocking: a read must never wait on a pty (see set_unit_fd for fd reuse).
        _nonblocking(client_fd, unit_fd)
        self._fd = {"req": client_fd, "resp": unit_fd}
        self._out = {"req": unit_fd, "resp": client_fd}
        self._length = {"req": request_length, "resp": reply_length}
        self._buf = {"req": bytearray(), "resp": bytearray()}
        self._since = {"req": 0.0, "resp": 0.0}  # monotonic s when a partial frame began
        self.faults = faults or {"req": Faults(), "resp": Faults()}
        self._rng = random.Random(seed)
        self.cut = False  # set by the rig: drop everything in both directions
        self.enabled = True  # faults on/off (off: pass-through, e.g. set-up and read-back)
        self.stats = {d: {"frames": 0, "corrupted": 0, "lost": 0, "bytes": 0,
                          "bytes_dropped": 0, "bits_flipped": 0, "corrupted_bytes_out": 0}
                      for d in ("req", "resp")}
        self._swallow = None  # threading.Event of an injected frame whose reply is awaited
        self._swallowed = bytearray()  # what came of that reply so far
        self.unrouted = 0
        self._queue = []  # (due monotonic s, direction, bytes) for delayed frames
        self._line_free = 0.0  # monotonic s when the emulated line is free again
        self._stop = threading.Event()
        self._swap = _KEEP  # a new unit fd (or None: detached), applied by the relay thread
        self._swapped = threading.Event()
        self._r, self._w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        os.write(self._w, b"x")
        self._thread.join(2)
        os.close(self._r)
        os.close(self._w)

    def set_unit_fd(self, fd):
        """Route the unit side to fd (None: detach it). Returns once the relay thread uses the
        new fd and no longer touches the old one, so the caller may then close the old fd.

        A firmware restart detaches first, closes the old pty and opens a new one (whose fd
        number the kernel may reuse), then attaches it: the relay never reads or writes an fd
        number that changed meaning under it.
        """
        if fd is not None:
            _nonblocking(fd)
        self._swapped.clear()
        self._swap = fd
        if not self._thread.is_alive():
            self._apply_swap()
            return
        os.write(self._w, b"r")
        if not self._swapped.wait(10):
            raise LinkError("the link proxy did not switch to the restarted firmware")

    def _apply_swap(self):
        fd = self._swap
        self._swap = _KEEP
        self._fd["resp"] = fd
        self._out["req"] = fd
        self._buf["resp"].clear()
        self._buf["req"].clear()
        self._queue = [q for q in self._queue if q[1] != "req"]
        self._swapped.set()

    def inject(self, data, reply=True, timeout_s=10.0):
        """Put a raw frame on the unit's line as another bus master would (security scenario).

        Call between the rig's transactions. Its reply (none to a broadcast) is taken off the
        line here, whole by its length even when it comes in pieces (QEMU's UART hands bytes
        over one by one: a stall of the emulator cuts a reply into several frames), so the
        rig's client never sees any of it. Returns False if no whole reply came in time; what
        comes after that reaches the client (as a late reply would).
        """
        ev = threading.Event() if reply else None
        self._swallowed = bytearray()
        self._swallow = ev
        self._write(self._out["req"], data)
        if not reply:
            return True
        if ev.wait(timeout_s):
            return True
        self._swallow = None
        return False

    def _mangle(self, d, data):
        if d == "resp" and self._swallow is not None:
            got = self._swallowed
            got += data
            n = reply_length(got)
            if n < 0 or 0 < n <= len(got):
                ev, self._swallow = self._swallow, None
                ev.set()
            return b""
        st = self.stats[d]
        st["frames"] += 1
        st["bytes"] += len(data)
        if self.cut:
            st["lost"] += 1
            st["bytes_dropped"] += len(data)
            return b""
        f = self.faults[d]
        if not self.enabled or not (f.drop_rate or f.flip_rate):
            return data
        rng = self._rng
        out = bytearray()
        altered = False
        for b in data:
            if f.drop_rate and rng.random() < f.drop_rate:
                st["bytes_dropped"] += 1
                altered = True
                continue
            if f.flip_rate and rng.random() < f.flip_rate:
                b ^= 1 << rng.randrange(8)
                st["bits_flipped"] += 1
                altered = True
            out.append(b)
        if altered:
            st["corrupted" if out else "lost"] += 1
            st["corrupted_bytes_out"] += len(out)  # what the receiver gets of altered frames
        return bytes(out)

    def _delay_s(self, d, n):
        """Seconds until a frame of n bytes arrives: line time (if emulated) + latency."""
        f = self.faults[d]
        delay = 0.0
        if f.line_baud:  # the frame's characters, then the 3.5-character silence after it, on
            now = time.monotonic()  # one shared half-duplex line (RS-485)
            start = max(now, self._line_free)
            end = start + n * 10.0 / f.line_baud
            self._line_free = end + (0.00175 if f.line_baud > 19200 else 35.0 / f.line_baud)
            delay = end - now
        if self.enabled and (f.latency_ms or f.jitter_ms):
            delay += max(0.0, f.latency_ms
                         + self._rng.uniform(-f.jitter_ms, f.jitter_ms)) / 1000.0
        return delay

    def _frames(self, d, now, flush):
        """Cut whole frames off the direction's buffer; `flush`: also a partial one."""
        buf = self._buf[d]
        while buf:
            n = self._length[d](buf)
            if n < 0 or flush or 0 < n <= len(buf):
                n = len(buf) if n <= 0 or n > len(buf) else n
                frame = bytes(buf[:n])
                del buf[:n]
                self._since[d] = now
                yield frame
            else:
                return

    def _relay(self, d, frame):
        if self._out[d] is None:  # unit side detached (firmware restarting)
            self.unrouted += 1
            return
        data = self._mangle(d, frame)
        if not data:
            return
        delay = self._delay_s(d, len(data))
        if delay or self._queue:
            due = time.monotonic() + delay
            # keep order within a direction: never before an earlier frame
            for q in self._queue:
                if q[1] == d:
                    due = max(due, q[0])
            self._queue.append((due, d, data))
            self._queue.sort(key=lambda q: q[0])
        else:
            self._write(self._out[d], data)

    def _run(self):
        while not self._stop.is_set():
            if self._swap is not _KEEP:
                self._apply_swap()
            now = time.monotonic()
            timeout = None
            if self._queue:
                timeout = max(0.0, self._queue[0][0] - now)
            for d in ("req", "resp"):
                if self._buf[d]:
                    left = max(0.0, self._since[d] + self.PARTIAL_S - now)
                    timeout = left if timeout is None else min(timeout, left)
            fds = [fd for fd in (self._fd["req"], self._fd["resp"]) if fd is not None]
            try:
                ready, _, _ = select.select(fds + [self._r], [], [], timeout)
            except (OSError, ValueError):
                time.sleep(0.001)
                continue
            if self._r in ready:
                os.read(self._r, 64)
                continue  # a swap or a stop: apply it before touching any fd
            now = time.monotonic()
            for d in ("req", "resp"):
                fd = self._fd[d]
                if fd is not None and fd in ready:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        data = b""  # the other side is not open (firmware restarting)
                    if data:
                        if not self._buf[d]:
                            self._since[d] = now
                        self._buf[d] += data
                stale = bool(self._buf[d]) and now - self._since[d] >= self.PARTIAL_S
                for frame in self._frames(d, now, stale):
                    self._relay(d, frame)
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _due, d, data = self._queue.pop(0)
                if self._out[d] is not None:
                    self._write(self._out[d], data)

    @staticmethod
    def _write(fd, data):
        try:
            os.write(fd, data)
        except OSError:
            pass


class UnixFirmware:
    """The firmware on the MicroPython Unix port behind a pty; start(), stop(), restart()."""

    def __init__(self, realtime=False, unit=1, silence_ms=4, state_file=None, heapsize=None,
                 source=False, key_file=None):
        self.realtime = realtime
        self.key_file = key_file  # the unit's key (hil/auth.py): locked, signed commands
        self.unit = unit
        self.silence_ms = silence_ms
        self.state_file = state_file
        self.heapsize = heapsize
        # False (default): run the mpy-cross build of the unix board, what a board runs (main.py
        # plus compiled .mpy modules; the Unix port then spends no heap compiling source).
        # True: run firmware/main.py and the modules from source (debugging: edit and rerun).
        self.source = source
        self._build = None  # tempfile.TemporaryDirectory holding the build, made on first start
        # everything the firmware prints (stdout and stderr), over every start, goes to one
        # file, with a "--- " line from the rig at each start and exit (a file, not a pipe:
        # survives a kill, and a chatty firmware cannot block on a full pipe)
        self._logdir = None
        self._exit_noted = True
        self.starts = 0
        self.proc = None
        self.master = self.slave = None
        self.path = None

    def main_py(self):
        """Path of the main.py the firmware runs: the build's (made once) or the source."""
        if self.source:
            return FIRMWARE_MAIN
        if self._build is None:
            spec = importlib.util.spec_from_file_location("build_firmware", BUILD_TOOL)
            tool = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(tool)
            tmp = tempfile.TemporaryDirectory(prefix="afrr-fw-")
            try:
                tool.build("unix", tmp.name, quiet=True)
            except tool.BuildError as e:
                tmp.cleanup()
                raise LinkError("firmware build for the Unix port failed: %s" % e)
            self._build = tmp
        return pathlib.Path(self._build.name) / "unix" / "main.py"

    def start(self):
        if not MICROPYTHON.exists():
            raise LinkError("no MicroPython Unix port at %s: run `make venv`" % MICROPYTHON)
        main = self.main_py()
        self.master, self.slave, self.path = open_pty()
        cmd = [str(MICROPYTHON)]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        cmd += [str(main), "--device", self.path, "--unit", str(self.unit),
                "--silence-ms", str(self.silence_ms)]
        if self.realtime:
            cmd.append("--realtime")
        if self.state_file:
            cmd += ["--state-file", str(self.state_file)]
        if self.key_file:
            cmd += ["--key-file", str(self.key_file)]
        self.starts += 1
        with open(self.log_path(), "ab") as log:
            log.write(("--- firmware start %d: %s\n" % (self.starts, " ".join(cmd))).encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        self._exit_noted = False
        return self

    def log_path(self):
        if self._logdir is None:
            self._logdir = tempfile.TemporaryDirectory(prefix="afrr-fwlog-")
        return pathlib.Path(self._logdir.name) / "firmware.log"

    def log(self):
        """All the firmware printed so far, over every start, with the rig's "--- " lines."""
        try:
            return self.log_path().read_bytes().decode(errors="replace")
        except OSError:
            return ""

    def kill(self):
        """Hard stop (SIGKILL), as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self):
        """End the firmware and return its log (every start so far).

        The pty is closed first: the firmware sees the hang-up, saves its state, prints why it
        stopped and exits; one that does not within 10 s is terminated, then killed."""
        _close_fds(self.master, self.slave)
        self.master = self.slave = None
        if self.proc and not self._exit_noted:
            for end in (None, self.proc.terminate, self.proc.kill):
                if end is not None:
                    end()
                try:
                    self.proc.wait(10 if end is None else 5)
                    break
                except subprocess.TimeoutExpired:
                    pass
            rc = self.proc.returncode
            with open(self.log_path(), "ab") as log:
                log.write(("--- firmware exited: status %s%s\n" % (
                    rc, " (signal %d)" % -rc if rc is not None and rc < 0 else "")).encode())
            self._exit_noted = True
        return self.log()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Link:
    """Client-side endpoint: a pty path for pymodbus, the proxy, and the firmware (unix)."""

    def __init__(self, firmware=None, device=None, faults=None, seed=1):
        self.firmware = firmware
        self.proxy = None
        self._cm = self._cs = None
        self.client_path = device
        self._faults = faults
        self._seed = seed

    def open(self):
        if self.firmware is not None:
            self.firmware.start()
            self._cm, self._cs, self.client_path = open_pty()
            self.proxy = FaultProxy(self._cm, self.firmware.master, self._faults,
                                    self._seed).start()
        return self

    def restart_firmware(self):
        """Kill the firmware (SIGKILL) and start a fresh process on a fresh pty.

        The proxy lets go of the old pty before it is closed: the new pty may get the same fd
        number, and a relay still holding the old number would otherwise read the new pty
        (a blocking read there, before the new fd is set non-blocking, hung the rig).
        """
        fw = self.firmware
        fw.kill()
        self.proxy.set_unit_fd(None)
        fw.stop()
        fw.start()
        self.proxy.set_unit_fd(fw.master)

    def close(self):
        out = ""
        if self.proxy:
            self.proxy.stop()
        if self.firmware is not None:
            out = self.firmware.stop()
        _close_fds(self._cm, self._cs)
        return out
