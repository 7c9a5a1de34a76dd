"""The case table tests/fixtures/rules.cases against netkit serve, with the
rules fixture (tests/fixtures/rules.c).  tests/plugin/test_kit_rules.c runs
the same table against the test kit, so the kit and the host agree on
every plugin ABI 1.2 rule it holds: pause/resume, watermarks and
on_writable, half-close, over-size input, a cancelled connect, the host's
deadlines (on_timeout) and the services destroy may not use.

Each case is a fresh server and one client.  The client's receive buffer
and the server's send buffer are small, so a client that stops reading
backs the server's output up at once.  Every wait is for a line, end of
file or a log line, with a deadline.
"""
import os
import socket
import tempfile
import unittest

import nktest
from nktest import DEADLINE, Server

FIXTURES = os.path.join(os.environ.get("NK_BUILDDIR") or
                        os.path.join(nktest.SRCDIR, "build"),
                        "tests", "fixtures", "plugins")
CASES = os.path.join(nktest.SRCDIR, "tests", "fixtures", "rules.cases")
FLOOD_LINE = b"f" * 1000


def load_cases(path):
    cases = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if line.startswith("case "):
                cases.append((line[5:], []))
            else:
                cases[-1][1].append(line)
    return cases


def unescape(text):
    return text.replace("\\n", "\n").replace("\\0", "\0").encode()


class Client:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so the window stays small.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.ended = False

    def line(self):
        """The next line, or None at end of file (or a reset)."""
        while b"\n" not in self.buf:
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                self.ended = True
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def rest(self):
        """Every line until the end."""
        lines = []
        while (l := self.line()) is not None:
            lines.append(l)
        return lines

    def close(self):
        self.sock.close()


class RulesTest(unittest.TestCase):
    maxDiff = None

    def run_case(self, name, steps):
        tmp = tempfile.mkdtemp(prefix="netkit-rules-")
        report = os.path.join(tmp, "report")
        args = []
        for st in steps:
            if st.startswith("serve "):
                args += st.split()[1:]
        srv = Server("-L", FIXTURES, "-p", "rules", "-P", "0", "-H",
                     "127.0.0.1", "-o", "SO_SNDBUF=4096", "-O",
                     "report=" + report, *args)
        with srv:
            c = Client(srv.port())
            self.addCleanup(c.close)
            for st in steps:
                word, _, arg = st.partition(" ")
                where = "%s: %s" % (name, st)
                if word in ("serve", "stall", "read", "timeout"):
                    # The client just reads or not; the server's own
                    # deadlines fire (the next step waits for them).
                    continue
                if word == "send":
                    c.sock.sendall(unescape(arg) + b"\n")
                elif word == "sendraw":
                    c.sock.sendall(unescape(arg))
                elif word == "sendlong":
                    c.sock.sendall(b"x" * int(arg))
                elif word == "sendlongline":
                    c.sock.sendall(b"x" * int(arg) + b"\n")
                elif word == "expect":
                    self.assertEqual(c.line(), arg.encode(), where)
                elif word == "expect-flood":
                    for i in range(int(arg)):
                        self.assertEqual(c.line(), FLOOD_LINE,
                                         "%s: line %d" % (where, i))
                elif word == "eof":
                    c.sock.shutdown(socket.SHUT_WR)
                elif word == "log":
                    srv.wait_for(arg)
                elif word == "closed":
                    self.assertEqual(c.rest(), [], where)
                elif word == "gone-without":
                    self.assertNotIn(arg.encode(), c.rest(), where)
                elif word == "stop":
                    c.close()
                    self.assertEqual(srv.stop(), 0, srv.stderr())
                elif word == "report":
                    with open(report) as f:
                        self.assertIn(arg, f.read(), where)
                else:
                    self.fail("%s: unknown step" % where)
            c.close()
            if srv.proc.poll() is None:
                self.assertEqual(srv.stop(), 0, srv.stderr())
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


def _add_cases():
    for name, steps in load_cases(CASES):
        def test(self, name=name, steps=steps):
            self.run_case(name, steps)
        setattr(RulesTest, "test_" + name, test)


_add_cases()

if __name__ == "__main__":
    nktest.main()
