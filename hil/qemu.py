# `--target qemu`: the firmware frozen into MicroPython's qemu port, on QEMU's emulated MPS2-AN385
# (Cortex-M3), its Modbus link the board's REPL UART on a host pty.
#
#   pymodbus client --(client pty)--> [FaultProxy] --(QEMU's UART0 pty)--> firmware under QEMU
#
# Start-up, every step waiting on an event with a generous overall timeout (never a fixed sleep):
# QEMU prints the pty of UART0 ("char device redirected to /dev/pts/N"); Ctrl-C until the REPL
# prompt; Ctrl-A for the raw REPL; a first exec mounts the RAM littlefs (hal/ramfs.py) and prints
# what the store has; for a run with a key (`[link] auth = true`: the rig's own key, made per
# run) an exec writes the key file where the board reads it (hal/keystore.py key_path; no floor
# file: floor 0, a first deployment), so the firmware, an OPEN_BENCH board otherwise, starts
# locked with that key as a deployed board does; a last exec runs the frozen app
# (`app.main([])`): after its "OK" every byte on the UART is Modbus RTU, and the fault proxy
# relays it like any serial link. stop() ends
# QEMU (terminate, then kill); QEMU also gets SIGTERM if the rig process dies (PR_SET_PDEATHSIG).
# The image comes from tools/build_micropython.py (build/micropython/firmware-qemu.elf).
import ctypes
import importlib.util
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
import tty

from hil.link import ROOT, Link, LinkError, _close_fds

BUILD_TOOL = ROOT / "tools" / "build_micropython.py"
QEMU = "qemu-system-arm"
START_TIMEOUT_S = 60.0  # QEMU start, boot and REPL hand-over; generous for a loaded host
# floor of the Modbus timeout: QEMU on a loaded host can stall for seconds, and a retry after a
# timeout risks the late reply being read as the next step's
LINK_TIMEOUT_S = 10.0
_PTY_LINE = re.compile(rb"char device redirected to (/dev/\S+)")
_RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
# when the app returns (it printed why on the link) the board resets, which ends QEMU
# (machine.reset() is a semihosting exit on this port): the rig sees the firmware exit
_START_APP = (b"import micropython\r\nmicropython.kbd_intr(-1)\r\nimport app, machine\r\n"
              b"try:\r\n app.main([])\r\nfinally:\r\n machine.reset()\r\n")
# the firmware's share of the heap (hil --heapsize on this target): a ballast takes the rest
_BALLAST = ("import gc\r\ngc.collect()\r\n_ballast = bytearray(max(0, gc.mem_free() - %d))\r\n"
            "gc.collect()\r\nprint(gc.mem_free())\r\n")
_PROBE = (b"import micropython\r\nmicropython.kbd_intr(-1)\r\nimport boards, gc\r\n"
          b"from hal.ramfs import mount\r\nb = boards.load()\r\nprint(b.NAME)\r\n"
          b"print(mount(b) if getattr(b, 'RAM_FS_BLOCKS', 0) else 'no storage: none on %s'"
          b" % b.NAME)\r\ngc.collect()\r\nprint(gc.mem_free())\r\n")


def build_tool():
    """tools/build_micropython.py as a module (the paths of what it builds, missing_tools)."""
    spec = importlib.util.spec_from_file_location("build_micropython", BUILD_TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def firmware_image():
    return build_tool().outputs()["qemu"]


def not_ready():
    """None when QEMU and a current firmware image are there; else one line on what to do."""
    if shutil.which(QEMU) is None:
        return "%s not installed (apt-get install qemu-system-arm)" % QEMU
    why = build_tool().stale(("qemu",))
    if why:
        return "the QEMU firmware image is %s: run `make micropython`" % why
    return None


def _die_with_parent():
    """In the child before exec: SIGTERM when the rig process dies, so QEMU is never orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class QemuFirmware:
    """The firmware on the emulated board; start(), stop(), alive(); `master` is UART0's pty."""

    def __init__(self, image=None, timeout_s=START_TIMEOUT_S, extra_args=(), app=True,
                 heap_bytes=None, key_file=None):
        self.image = image
        self.key_file = key_file  # the unit's key file on the host, provisioned before the app
        self.heap_bytes = heap_bytes  # None: all the port's heap; else leave only this free
        self.app = app  # False: stop at the raw REPL (exec() runs code there)
        self.timeout_s = timeout_s
        self.extra_args = list(extra_args)  # e.g. ["-icount", "shift=0"]
        self.proc = None
        self.master = None
        self.path = None
        self.board = None  # board data module name the firmware picked
        self.storage = None  # what hal/ramfs.mount said: littlefs in RAM, or "no storage: ..."
        self.heap_free = None  # gc.mem_free() after the imports, before the app starts
        self._out = bytearray()  # QEMU's own stdout/stderr
        self._out_cond = threading.Condition()
        self._reader = None
        self._transcript = []  # the REPL hand-over, for the log
        self._rx = bytearray()  # UART0 bytes read during the hand-over, not yet matched

    # -- QEMU's own output ---------------------------------------------------------------------
    def _read_stdout(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            with self._out_cond:
                if data:
                    self._out += data
                self._out_cond.notify_all()
            if not data:
                return

    def _pty_path(self, t_end):
        with self._out_cond:
            while True:
                m = _PTY_LINE.search(self._out)
                if m:
                    return m.group(1).decode()
                if self.proc.poll() is not None:
                    raise LinkError("QEMU exited at start: %s" % self._qemu_said())
                left = t_end - time.monotonic()
                if left <= 0:
                    raise LinkError("QEMU printed no pty within %.0f s" % self.timeout_s)
                self._out_cond.wait(min(left, 1.0))

    def _qemu_said(self):
        lines = [ln for ln in bytes(self._out).decode(errors="replace").splitlines()
                 if ln.strip()]
        return lines[-1] if lines else "(nothing)"

    # -- the REPL on UART0 ---------------------------------------------------------------------
    def _expect(self, marker, t_end, what):
        """Read UART0 until `marker` arrives; returns what came up to and including it (what
        came after it stays buffered for the next call)."""
        while marker not in self._rx:
            left = t_end - time.monotonic()
            if left <= 0:
                raise LinkError("QEMU board: no %s within %.0f s (got %r)"
                                % (what, self.timeout_s, bytes(self._rx[-80:])))
            if self.proc.poll() is not None:
                raise LinkError("QEMU exited while waiting for %s: %s" % (what, self._qemu_said()))
            r, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if r:
                try:
                    self._rx += os.read(self.master, 4096)
                except OSError:
                    pass
        i = self._rx.index(marker) + len(marker)
        got = bytes(self._rx[:i])
        del self._rx[:i]
        return got

    def _exec(self, code, t_end, what, feed=b""):
        """Run code in the raw REPL; returns its stdout (raises on an exception in it). `feed`:
        bytes written to the board's stdin while the code runs (from a thread: the pty holds
        only a few KiB and QEMU takes them as fast as the code reads)."""
        os.write(self.master, code + b"\x04")
        self._expect(b"OK", t_end, what + " accepted")
        writer = None
        if feed:
            writer = threading.Thread(target=self._feed, args=(feed,), daemon=True)
            writer.start()
        got = self._expect(b"\x04>", t_end, what + " finished")
        if writer is not None:
            writer.join(5)
        out, _, err = got.partition(b"\x04")
        err = err[:-2]
        if err.strip():
            tail = err.decode(errors="replace").strip().splitlines()[-1]
            raise LinkError("QEMU board: %s failed: %s" % (what, tail))
        return out.decode(errors="replace")

    def _feed(self, data):
        view = memoryview(data)
        while view:
            try:
                r, w, _ = select.select([], [self.master], [], 1.0)
                if w:
                    view = view[os.write(self.master, view[:4096]):]
            except OSError:  # QEMU ended; _expect reports it
                return
            if not self.alive():
                return

    def exec(self, code, feed=b"", timeout_s=600.0):
        """Run Python source on the board (raw REPL; start(app=False) first); its stdout."""
        if isinstance(code, str):
            code = code.encode()
        return self._exec(code, time.monotonic() + timeout_s, "exec", feed)

    def _hand_over(self, t_end):
        os.write(self.master, b"\r\x03\x03")  # stop whatever runs; back to the friendly REPL
        self._expect(b">>> ", t_end, "REPL prompt")
        os.write(self.master, b"\x01")  # raw REPL: no echo, code ends at Ctrl-D
        self._expect(_RAW_PROMPT, t_end, "raw REPL")
        out = self._exec(_PROBE, t_end, "storage probe").split()
        if len(out) < 3:
            raise LinkError("QEMU board: unexpected probe answer %r" % out)
        self.board = out[0]
        self.storage = " ".join(out[1:-1])
        self.heap_free = int(out[-1]) if out[-1].isdigit() else None
        self._transcript.append("board %s; storage: %s; heap free before the app: %s bytes"
                                % (self.board, self.storage, self.heap_free))
        if self.key_file is not None:
            self._provision(t_end)
        if self.heap_bytes is not None:
            left = self._exec((_BALLAST % self.heap_bytes).encode(), t_end, "heap ballast")
            self.heap_free = int(left.split()[-1])
            self._transcript.append("heap left to the firmware: %d bytes" % self.heap_free)
        if self.app:
            os.write(self.master, _START_APP + b"\x04")
            self._expect(b"OK", t_end, "firmware start")  # from here on the UART is Modbus

    def _provision(self, t_end):
        """Write the key file onto the board's file system, where its firmware reads it."""
        import importlib

        from hal.keystore import key_path

        if not self.storage.startswith("littlefs"):
            raise LinkError("QEMU board: a key needs storage on the board (%s)" % self.storage)
        try:
            text = open(self.key_file).read()
        except OSError as e:
            raise LinkError("key file %s: %s" % (self.key_file, e.strerror))
        path = key_path(importlib.import_module("boards." + self.board))
        self._exec(("f = open(%r, 'w')\r\nf.write(%r)\r\nf.close()\r\ndel f\r\n"
                    % (path, text)).encode(), t_end, "key provisioning")
        self._transcript.append("key provisioned at %s (no floor file: floor 0)" % path)

    # -- life cycle ----------------------------------------------------------------------------
    def start(self):
        image = self.image or firmware_image()
        if not os.path.exists(image):
            raise LinkError("no QEMU firmware image at %s: run `make micropython` "
                            "(tools/build_micropython.py)" % image)
        if shutil.which(QEMU) is None:
            raise LinkError("%s not found: apt-get install qemu-system-arm" % QEMU)
        cmd = [QEMU, "-machine", "mps2-an385", "-nographic", "-monitor", "null", "-semihosting",
               "-serial", "pty", *self.extra_args, "-kernel", str(image)]
        self._out = bytearray()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self._reader = threading.Thread(target=self._read_stdout, name="qemu-stdout",
                                        daemon=True)
        self._reader.start()
        try:
            t_end = time.monotonic() + self.timeout_s
            self.path = self._pty_path(t_end)
            self.master = os.open(self.path, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(self.master)
            self._hand_over(t_end)
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        """End QEMU (terminate, then kill), close the pty; returns the log of the run."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            if self._reader is not None:
                self._reader.join(5)
            self.proc.stdout.close()
        _close_fds(self.master)
        self.master = None
        lines = bytes(self._out).decode(errors="replace").splitlines() + self._transcript
        return "\n".join(ln for ln in lines if ln.strip()) + "\n"


class QemuLink(Link):
    """Link with the firmware under QEMU; a run without persisted state says so in `warnings`."""

    min_timeout_s = LINK_TIMEOUT_S

    def __init__(self, firmware, faults, seed, warnings):
        super().__init__(firmware, faults=faults, seed=seed)
        self._warnings = warnings

    def open(self):
        super().open()
        st = self.firmware.storage or ""
        if st.startswith("no storage"):
            self._warnings.append("%s: the run has no persisted state" % st)
        return self

    def restart_firmware(self):
        raise LinkError("firmware restarts need --target unix")


def heap_bytes(text):
    """hil --heapsize for this target: bytes, or with a k/m suffix (64k); None for None."""
    if text is None:
        return None
    t = str(text).strip().lower()
    mult = {"k": 1024, "m": 1024 * 1024}.get(t[-1:], 1)
    try:
        n = int(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise LinkError("--heapsize %r: a number of bytes, e.g. 65536 or 64k" % text)
    if n <= 0:
        raise LinkError("--heapsize must be positive")
    return n


def qemu_link(faults, link_cfg, warnings, image=None, extra_args=(), heapsize=None,
              key_file=None):
    """The Link of `--target qemu`; warns about what the target cannot do. heapsize: the heap
    left free to the firmware at its start (the rest goes to a ballast), e.g. "64k". key_file:
    the unit's key, provisioned on the board before the firmware starts (None: the board's
    open bench profile)."""
    if link_cfg.get("restarts"):
        warnings.append("firmware restarts need --target unix: not injected on qemu")
    fw = QemuFirmware(image=image, extra_args=extra_args, heap_bytes=heap_bytes(heapsize),
                      key_file=key_file)
    return QemuLink(fw, faults, link_cfg["seed"], warnings)
