# Serial link on the MicroPython Unix port: a pty or tty path, raw mode, non-blocking reads.
#
# The Unix port's `os` has no open/read/write: the device is opened with the builtin
# open(path, "r+b") (an unbuffered FileIO). `readinto` on a FileIO loops until its buffer is full,
# so the tty is set to VMIN=0/VTIME=0: a read then returns what is waiting and readinto stops at
# the first empty read. select.poll (`ipoll`, which allocates nothing) waits for input.
import select
import termios

_VTIME = 5  # index in termios cc (Linux)
_VMIN = 6
_BAUDS = {9600: "B9600", 57600: "B57600", 115200: "B115200", 230400: "B230400",
          460800: "B460800", 921600: "B921600"}


class LinkClosed(Exception):
    """The other end of the link went away (pty master closed)."""


class PtyPort:
    """Duck-typed link used by main.serve(): wait(ms), readinto(buf), write(buf, n)."""

    def __init__(self, path, baud=None):
        try:
            self._f = open(path, "r+b")
        except OSError as e:
            raise LinkClosed("cannot open %s (%s)" % (path, e))
        fd = self._f.fileno()
        termios.setraw(fd)
        attr = termios.tcgetattr(fd)
        attr[6][_VMIN] = 0
        attr[6][_VTIME] = 0
        if baud:
            name = _BAUDS.get(baud)
            if name is None:
                raise ValueError("unsupported baud rate %d (one of %s)"
                                 % (baud, ", ".join(str(b) for b in sorted(_BAUDS))))
            attr[4] = attr[5] = getattr(termios, name)
        termios.tcsetattr(fd, termios.TCSANOW, attr)
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)

    def wait(self, timeout_ms):
        """True when input is waiting (or the link hung up: readinto then raises)."""
        for _obj, ev in self._poll.ipoll(timeout_ms):
            if ev & (select.POLLHUP | select.POLLERR):
                raise LinkClosed("link hung up")
            return True
        return False

    def readinto(self, buf):
        try:
            n = self._f.readinto(buf)
        except OSError:
            raise LinkClosed("link read failed")
        return n or 0

    def write(self, buf, n):
        try:
            self._f.write(buf, 0, n)
        except OSError:
            raise LinkClosed("link write failed")

    def close(self):
        self._f.close()
