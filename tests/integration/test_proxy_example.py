"""The proxy example (examples/proxy), built out of tree against a
temporarily installed netkit (oot.Prefix), in front of a backend this test
plays with plain sockets.

What is checked (plugin ABI 1.2 end to end):
  - back-pressure both ways: in front of a backend that never reads, the
    client's sends stop completing once the kernel buffers on the way are
    full (a few MB, not the 37 MB netkit read before 1.2), netkit's memory
    stays within a few MB, and nothing is closed: once the backend reads,
    every byte arrives in order.  The same with a client that never reads
    what the backend sends;
  - 200 MB relayed through a reader that is slow at first and fast later,
    every byte intact (SHA-256 of both ends);
  - half-close: a client that sends, shuts its side and waits gets the
    backend's answer written after it saw end of file;
  - the backend by host name (localhost, looked up off the loop), a
    connect timeout against a backend that never answers, a backend that
    refuses, and a client that leaves before its backend connection is up
    (the connect is cancelled: nothing reaches the backend).

Every wait is for data, a blocked send or a log line, with a deadline; the
one sleep paces the slow reader (the behaviour under test).
"""
import hashlib
import os
import random
import re
import select
import socket
import struct
import threading
import time
import unittest

import nktest
import oot
from nktest import DEADLINE, VALGRIND, Server

EXAMPLE = "proxy"
# Bytes the relay test moves; under valgrind a tenth.
BULK = (20 if VALGRIND else 200) << 20
# Far more than every kernel buffer on the way (loopback autotuning goes
# to a few MB per socket): a relay that buffers without bound passes it.
UNBOUNDED = 64 << 20

_rng = random.Random(15)
PERIOD = 65521  # a prime: no chunk boundary lines up with the pattern
BLOCK = bytes(_rng.getrandbits(8) for _ in range(PERIOD)) * 2


def chunk(off, n):
    """n <= PERIOD bytes of the test stream at offset off."""
    i = off % PERIOD
    return BLOCK[i:i + n]


def stream_hash(n):
    h = hashlib.sha256()
    off = 0
    while off < n:
        k = min(PERIOD, n - off)
        h.update(chunk(off, k))
        off += k
    return h.hexdigest()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fill_until_blocked(sock):
    """Send the test stream without blocking until the socket takes
    nothing for a second; the bytes it took.  Bounded by UNBOUNDED bytes
    and DEADLINE seconds."""
    sock.setblocking(False)
    sent = 0
    end = time.monotonic() + DEADLINE
    try:
        while sent < UNBOUNDED and time.monotonic() < end:
            try:
                sent += sock.send(chunk(sent, PERIOD))
                continue
            except BlockingIOError:
                pass
            _, w, _ = select.select([], [sock], [], 1.0)
            if not w:
                return sent  # a whole second without room: blocked
        raise AssertionError("sends never blocked: %d bytes taken" % sent)
    finally:
        sock.setblocking(True)


def read_all(sock, n):
    """Read exactly n bytes of the test stream; their hash matches."""
    h = hashlib.sha256()
    got = 0
    while got < n:
        d = sock.recv(min(1 << 20, n - got))
        if not d:
            raise AssertionError("closed after %d of %d bytes" % (got, n))
        h.update(d)
        got += len(d)
    return h.hexdigest()


class Backend:
    """A listening socket on 127.0.0.1 the proxy connects to."""

    def __init__(self, backlog=16):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.sock.settimeout(DEADLINE)
        self.port = self.sock.getsockname()[1]

    def accept(self):
        a, _ = self.sock.accept()
        a.settimeout(DEADLINE)
        return a

    def close(self):
        self.sock.close()


class ProxyExampleTest(oot.ExampleTest):
    EXAMPLE = EXAMPLE

    def backend(self, **kw):
        b = Backend(**kw)
        self.addCleanup(b.close)
        return b

    def serve(self, backend_port, *args, host="127.0.0.1"):
        return Server("-L", self.dir, "-p", EXAMPLE, "-P", "0", "-H",
                      "127.0.0.1", "-O", "backend_host=" + host, "-O",
                      "backend_port=%d" % backend_port, *args)

    def client(self, srv):
        c = nktest.connect("127.0.0.1", srv.port())
        self.addCleanup(c.close)
        return c

    def test_netkit_check_passes(self):
        r = nktest.run("check", "-L", self.dir, EXAMPLE)
        self.assertEqual(r.returncode, 0, r.stdout.decode() +
                         r.stderr.decode())

    def test_never_reading_backend_blocks_the_client(self):
        b = self.backend()
        with self.serve(b.port) as srv:
            c = self.client(srv)
            a = b.accept()
            before = rss_kb(srv.proc.pid)
            sent = fill_until_blocked(c)
            grown = rss_kb(srv.proc.pid) - before
            # What the kernel buffers on the way, not what netkit read:
            # far below UNBOUNDED, and netkit itself grew by a few MB.
            self.assertLess(sent, UNBOUNDED // 2)
            if not VALGRIND and not nktest.SANITIZED:
                self.assertLess(grown, 4096, "netkit grew by %d kB" % grown)
            self.assertNotIn("Connection closed", srv.stderr())
            # Nothing was dropped or closed: the backend gets it all.
            self.assertEqual(read_all(a, sent), stream_hash(sent))
            c.sendall(b"and more")
            self.assertEqual(nktest.recv_exact(a, 8), b"and more")
            c.close()
            a.close()
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_never_reading_client_blocks_the_backend(self):
        b = self.backend()
        with self.serve(b.port) as srv:
            c = self.client(srv)
            a = b.accept()
            before = rss_kb(srv.proc.pid)
            sent = fill_until_blocked(a)
            grown = rss_kb(srv.proc.pid) - before
            self.assertLess(sent, UNBOUNDED // 2)
            if not VALGRIND and not nktest.SANITIZED:
                self.assertLess(grown, 4096, "netkit grew by %d kB" % grown)
            self.assertNotIn("Connection closed", srv.stderr())
            self.assertEqual(read_all(c, sent), stream_hash(sent))
            a.sendall(b"the end")
            self.assertEqual(nktest.recv_exact(c, 7), b"the end")
            a.close()
            c.close()
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_bulk_through_a_slow_reader(self):
        b = self.backend()
        with self.serve(b.port) as srv:
            c = self.client(srv)
            a = b.accept()
            errors = []

            def send():
                try:
                    off = 0
                    while off < BULK:
                        k = min(PERIOD, BULK - off)
                        c.sendall(chunk(off, k))
                        off += k
                    c.shutdown(socket.SHUT_WR)
                except OSError as e:
                    errors.append(e)

            t = threading.Thread(target=send)
            t.start()
            h = hashlib.sha256()
            got = 0
            # Slow at first: 4 KiB reads 10 ms apart for half a second,
            # so the relay pauses and resumes many times; then fast.
            for _ in range(50):
                d = a.recv(4096)
                h.update(d)
                got += len(d)
                time.sleep(0.01)  # the slow reader under test
            while True:
                d = a.recv(1 << 20)
                if not d:
                    break
                h.update(d)
                got += len(d)
            t.join(DEADLINE)
            self.assertFalse(t.is_alive())
            self.assertEqual(errors, [])
            self.assertEqual(got, BULK)
            self.assertEqual(h.hexdigest(), stream_hash(BULK))
            a.close()
            self.assertEqual(c.recv(1), b"")  # the backend's close came
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_half_close_round_trip(self):
        b = self.backend()
        with self.serve(b.port) as srv:
            c = self.client(srv)
            a = b.accept()
            c.sendall(b"question")
            c.shutdown(socket.SHUT_WR)
            got = b""
            while True:  # the client's FIN reaches the backend
                d = a.recv(100)
                if not d:
                    break
                got += d
            self.assertEqual(got, b"question")
            a.sendall(b"answer after EOF to " + got)
            a.close()
            back = b""
            while True:
                d = c.recv(100)
                if not d:
                    break
                back += d
            self.assertEqual(back, b"answer after EOF to question")
            srv.wait_for("Connection closed")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_backend_by_host_name(self):
        b = self.backend()
        with self.serve(b.port, host="localhost") as srv:
            c = self.client(srv)
            c.sendall(b"by name")
            a = b.accept()
            self.assertEqual(nktest.recv_exact(a, 7), b"by name")
            a.sendall(b"ok")
            self.assertEqual(nktest.recv_exact(c, 2), b"ok")
            c.close()
            a.close()
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_unknown_host_name_closes_the_client(self):
        with self.serve(9, host="no-such-host.invalid") as srv:
            c = self.client(srv)
            self.assertEqual(c.recv(1), b"")
            srv.wait_for("backend no-such-host.invalid:9:")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_refused_backend_closes_the_client(self):
        b = self.backend()
        port = b.port
        b.close()  # nobody listens there now
        with self.serve(port) as srv:
            c = self.client(srv)
            self.assertEqual(c.recv(1), b"")
            srv.wait_for(re.compile(r"backend \S+: connection refused",
                                    re.I))
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def unanswering_backend(self):
        """A backend whose accept queue is full: the kernel drops further
        SYNs, so a connect to it stays pending."""
        b = self.backend(backlog=0)
        fill = []
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", b.port))
            fill.append(s)
        self.addCleanup(lambda: [s.close() for s in fill])
        return b

    def test_connect_timeout(self):
        b = self.unanswering_backend()
        with self.serve(b.port, "-O", "connect_timeout_ms=200") as srv:
            c = self.client(srv)
            self.assertEqual(c.recv(1), b"")
            srv.wait_for("timed out")
            self.assertIn("(connect timeout)", srv.stderr())
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_client_gone_before_the_backend_is_up(self):
        # The client leaves while its backend connect is pending: the
        # connect is cancelled, and what the client sent never reaches
        # the backend, even once the backend accepts again.
        b = self.unanswering_backend()
        with self.serve(b.port, "-O", "connect_timeout_ms=0") as srv:
            c = self.client(srv)
            c.sendall(b"from a client that is gone")
            srv.wait_for("Connection from")
            # A reset, not a FIN: a FIN is a half-close, which the relay
            # passes on once the backend is up.
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            c.close()
            srv.wait_for("(connect cancelled)")
            b.sock.settimeout(0.5)
            got = b""
            try:
                while True:  # the queued fillers, and no proxy connection
                    a, _ = b.sock.accept()
                    a.settimeout(0.5)
                    try:
                        got += a.recv(100)
                    except socket.timeout:
                        pass
                    a.close()
            except socket.timeout:
                pass
            self.assertEqual(got, b"")
            self.assertEqual(srv.stop(), 0, srv.stderr())


if __name__ == "__main__":
    nktest.main()
