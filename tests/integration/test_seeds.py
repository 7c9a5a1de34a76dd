"""The seed programs against netkit, byte for byte: netkit connect against
the seeds' own servers, and the seeds' clients against netkit serve, raw
and framed, on every loopback host.

The seeds (seeds/*.py) are simple threaded Python servers and clients,
naive on purpose as the originals were: the framed server reads the end of
the stream as a message of length 0 and answers it without end, so a
client that half-closes and reads on prints replies until its timeout.
Each case also runs the seed client against the seed server, the way the
seeds were used before netkit, and asks for the very same bytes.  Every
wait has a deadline; none is a sleep."""
import os
import re
import subprocess
import sys
import threading
import time
import unittest

import nktest
from nktest import DEADLINE, HOSTS, Server, run

SEEDS = os.path.join(nktest.HERE, "seeds")
RAW_PREFIX = b">Server echo : "
FRAMED_PREFIX = b"echo : "
LISTEN_RE = re.compile(r"^\[\*\] Listen on \S+:(\d+)$")


class SeedServer:
    """seeds/KIND_server.py on host, port 0; its stdout lines are kept."""

    def __init__(self, kind, host):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(SEEDS, kind + "_server.py"), host,
             "0"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.port = int(self.wait_for(LISTEN_RE).group(1))

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode().rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_for(self, pattern, count=1):
        """Wait until `count` lines match; return the last match."""
        if isinstance(pattern, str):
            pattern = re.compile(re.escape(pattern))
        end = time.monotonic() + DEADLINE
        with self.cond:
            while True:
                found = [m for m in (pattern.search(l) for l in self.lines
                                     if l is not None) if m]
                if len(found) >= count:
                    return found[count - 1]
                left = end - time.monotonic()
                if None in self.lines or left <= 0:
                    raise AssertionError(
                        "seed server: no %d x %r; stdout:\n%s"
                        % (count, pattern.pattern, "\n".join(
                            l for l in self.lines if l is not None)))
                self.cond.wait(left)

    def received(self):
        """Each read that returned bytes, as bytes, in order; reads of the
        end of the stream (empty) are left out."""
        with self.cond:
            return [bytes.fromhex(l.split()[2]) for l in self.lines
                    if l is not None and l.startswith("[*] Received ")
                    and len(l.split()) > 2]

    def closes(self):
        with self.cond:
            return sum(1 for l in self.lines
                       if l is not None and "Connection closed" in l)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.reader.join(DEADLINE)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def seed_client(kind, host, port, stdin):
    """seeds/KIND_client.py: (status, stdout)."""
    p = subprocess.run(
        [sys.executable, os.path.join(SEEDS, kind + "_client.py"), host,
         str(port)], input=stdin, capture_output=True, timeout=DEADLINE)
    return p.returncode, p.stdout, p.stderr


def frame(payload):
    return len(payload).to_bytes(4, "little") + payload


class ConnectToSeedServerTest(unittest.TestCase):
    """netkit connect prints what the seed servers send, sends them what the
    seed clients sent, and never makes them answer the end of its stream."""

    def connect(self, kind, host, srv, *args, stdin=None):
        p = run("connect", "-p", kind, *args, host, str(srv.port),
                input=stdin)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(b"netkit:", p.stderr)
        return p.stdout

    def test_framed_count(self):
        # The case: -m hello -n 3 printed ~175,000 lines, as the
        # client half-closed after the third reply and read on.
        for host in HOSTS:
            with self.subTest(host=host), SeedServer("framed", host) as srv:
                out = self.connect("framed", host, srv, "-m", "hello", "-n",
                                   "3")
                self.assertEqual(out, (FRAMED_PREFIX + b"hello\n") * 3)
                self.assertEqual(srv.received(), [frame(b"hello")] * 3)
                # The client closed (it did not leave the server hanging):
                # the seed server's next send fails and it says so.
                srv.wait_for("Connection closed")

    def test_framed_lines(self):
        # Line by line, end of input: the same bytes out and in as the
        # seed client's, the empty line as an empty message.
        stdin = b"hello\n\nsecond line\n"
        for host in HOSTS:
            with self.subTest(host=host), SeedServer("framed", host) as srv:
                out = self.connect("framed", host, srv, stdin=stdin)
                self.assertEqual(out, b"echo : hello\necho : \n"
                                 b"echo : second line\n")
                sent = srv.received()
                self.assertEqual(sent, [frame(b"hello"), frame(b""),
                                        frame(b"second line")])
                srv.wait_for("Connection closed")
                rc, seed_out, err = seed_client("framed", host, srv.port,
                                                stdin)
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, seed_out)
                self.assertEqual(srv.received()[len(sent):], sent)

    def test_framed_exit(self):
        # `exit`'s reply is printed, then the client closes; nothing after
        # it is sent.
        for host in HOSTS:
            with self.subTest(host=host), SeedServer("framed", host) as srv:
                out = self.connect("framed", host, srv,
                                   stdin=b"hello\nexit\nafter\n")
                self.assertEqual(out, b"echo : hello\necho : exit\n")
                self.assertEqual(srv.received(),
                                 [frame(b"hello"), frame(b"exit")])

    def test_raw_lines(self):
        stdin = b"hello\nsecond line\n"
        for host in HOSTS:
            with self.subTest(host=host), SeedServer("raw", host) as srv:
                out = self.connect("raw", host, srv, stdin=stdin)
                self.assertEqual(out, RAW_PREFIX + b"hello\n" + RAW_PREFIX
                                 + b"second line\n")
                sent = srv.received()
                self.assertEqual(sent, [b"hello", b"second line"])
                srv.wait_for("Connection closed")
                rc, seed_out, err = seed_client("raw", host, srv.port, stdin)
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, seed_out)
                self.assertEqual(srv.received()[len(sent):], sent)

    def test_raw_exit(self):
        # The seed raw server closes on `exit`: the normal end, status 0.
        for host in HOSTS:
            with self.subTest(host=host), SeedServer("raw", host) as srv:
                out = self.connect("raw", host, srv,
                                   stdin=b"hello\nexit\nafter\n")
                self.assertEqual(out, RAW_PREFIX + b"hello\n")
                self.assertEqual(srv.received(), [b"hello", b"exit"])


class SeedClientToServeTest(unittest.TestCase):
    """The seed clients get from netkit serve the very bytes they get from
    the seed servers."""

    def check(self, kind, stdin, expected):
        for host in HOSTS:
            with self.subTest(host=host):
                with Server("-p", kind, "-H", host, "-P", "0") as srv:
                    rc, out, err = seed_client(kind, host, srv.port(), stdin)
                    self.assertEqual(rc, 0, err)
                    self.assertEqual(out, expected)
                    self.assertEqual(srv.stop(), 0, srv.stderr())
                with SeedServer(kind, host) as seed:
                    rc, seed_out, err = seed_client(kind, host, seed.port,
                                                    stdin)
                    self.assertEqual(rc, 0, err)
                    self.assertEqual(seed_out, out)

    def test_framed_client(self):
        self.check("framed", b"hello\n\nsecond line\nexit\n",
                   b"echo : hello\necho : \necho : second line\n"
                   b"echo : exit\n")

    def test_raw_client(self):
        self.check("raw", b"hello\nsecond line\nexit\n",
                   RAW_PREFIX + b"hello\n" + RAW_PREFIX + b"second line\n")


if __name__ == "__main__":
    nktest.main()
