# Duck-typed fakes shared by the serve-loop tests (both runtimes): a clock and a scripted port.


class Stop(Exception):
    """Raised by ScriptedPort.wait() to end a serve() loop at the script's end time."""


class Clock:
    def __init__(self):
        self.t = 0  # ms

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b


class ScriptedPort:
    """Bytes arrive at scripted times [(t_ms, bytes)]; wait() moves the fake clock forward.

    The loop is stopped once the clock passes t_end (with drain=True: only once every scripted
    byte has also been delivered).
    """

    def __init__(self, clock, script, t_end, drain=False):
        self.clock = clock
        self.script = list(script)
        self.t_end = t_end
        self.drain = drain
        self.sent = []

    def wait(self, timeout_ms):
        c = self.clock
        if self.script and self.script[0][0] <= c.t + timeout_ms:
            if self.script[0][0] > c.t:
                c.t = self.script[0][0]
            return True
        c.t += timeout_ms if timeout_ms > 0 else 1
        if c.t > self.t_end and not (self.drain and self.script):
            raise Stop()
        return False

    def readinto(self, buf):
        t, data = self.script[0]
        n = min(len(data), len(buf))
        for i in range(n):
            buf[i] = data[i]
        if n == len(data):
            self.script.pop(0)
        else:
            self.script[0] = (t, data[n:])
        return n

    def write(self, buf, n):
        self.sent.append(bytes(buf[:n]))
