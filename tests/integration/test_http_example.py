"""The http example (examples/http), built out of tree against a
temporarily installed netkit (oot.Prefix), served and driven by curl and by
plain sockets.

What is checked (plugin ABI 1.2, partial input and the host's deadlines):
  - curl --data-binary with "Expect: 100-continue" gets "100 Continue" as
    soon as its head is in (on_head), not after its own expect timeout: the
    request completes well under curl's --expect100-timeout of 5 s (curl
    would otherwise wait that long before sending the body), the body comes
    back intact, and on a raw socket the 100 arrives before any body byte
    is sent;
  - a body over max_body is answered 413 before any 100 (the body is never
    sent); a malformed request 400; both close;
  - keep-alive: curl fetches two URLs over one connection, and a raw
    client gets two pipelined answers;
  - the host's deadlines (on_timeout): a request half received when
    message_timeout or idle_timeout fires is answered 408; an idle
    keep-alive connection is closed without a byte, like nginx.

Every wait is for data, a closed socket or a log line, with a deadline.
"""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import unittest

import nktest
import oot
from nktest import DEADLINE, Server
from oot import exported_functions

EXAMPLE = "http"
CURL = shutil.which("curl")
# curl's own wait for a 100 before it sends the body anyway.
EXPECT_TIMEOUT = 5


def read_response(sock, head=False):
    """One response: (status line, headers dict, body); (b"", {}, b"") if
    the server closed first.  head: the answer to a HEAD (no body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(4096)
        if not d:
            if buf:
                raise AssertionError("closed inside a head: %r" % buf)
            return b"", {}, b""
        buf += d
    top, rest = buf.split(b"\r\n\r\n", 1)
    lines = top.split(b"\r\n")
    fields = {}
    for l in lines[1:]:
        k, v = l.split(b":", 1)
        fields[k.strip().lower()] = v.strip()
    n = 0 if head else int(fields.get(b"content-length", b"0"))
    while len(rest) < n:
        d = sock.recv(65536)
        if not d:
            raise AssertionError("closed inside a body")
        rest += d
    # What follows belongs to the next response: hand it back.
    sock.pending = rest[n:]
    return lines[0], fields, rest[:n]


class Conn:
    """A raw HTTP client socket that keeps what it read past a response."""

    def __init__(self, port):
        self.sock = nktest.connect("127.0.0.1", port)
        self.pending = b""

    def send(self, data):
        self.sock.sendall(data)

    def recv(self, n):
        if self.pending:
            d, self.pending = self.pending[:n], self.pending[n:]
            return d
        return self.sock.recv(n)

    def response(self, head=False):
        return read_response(self, head)

    def closed(self):
        """True once the server has closed (after what is pending)."""
        return self.pending == b"" and self.sock.recv(1) == b""

    def close(self):
        self.sock.close()


class HttpExampleTest(oot.ExampleTest):
    EXAMPLE = EXAMPLE

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="netkit-http-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def serve(self, *args):
        return Server("-L", self.dir, "-p", EXAMPLE, "-P", "0", "-H",
                      "127.0.0.1", *args)

    def conn(self, srv):
        c = Conn(srv.port())
        self.addCleanup(c.close)
        return c

    def url(self, srv, path="/"):
        return "http://127.0.0.1:%d%s" % (srv.port(), path)

    def curl(self, *args):
        p = subprocess.run([CURL, "-sS", "--max-time", str(DEADLINE * 2)]
                           + list(args), capture_output=True,
                           timeout=DEADLINE * 3)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p

    def test_built_by_make_exports_only_the_entry(self):
        build = self.oot.make_build(EXAMPLE)
        self.assertEqual(exported_functions(os.path.join(build, "http.so")),
                         ["nk_plugin_entry"])

    @unittest.skipIf(CURL is None, "curl not installed")
    def test_expect_100_continue_with_curl_does_not_stall(self):
        body = random.Random(100).randbytes(300 * 1024)
        path = nktest.write(self.tmp, "body", body)
        out = os.path.join(self.tmp, "out")
        with self.serve() as srv:
            p = self.curl("-v", "--expect100-timeout", str(EXPECT_TIMEOUT),
                          "-H", "Expect: 100-continue", "--data-binary",
                          "@" + path, "-o", out, "-w",
                          "%{http_code} %{time_total}", self.url(srv, "/e"))
            code, total = p.stdout.decode().split()
            self.assertEqual(code, "200")
            with open(out, "rb") as f:
                self.assertEqual(f.read(), body)
            # The 100 came from the server, so curl did not wait out its
            # expect timeout before sending the body.
            self.assertIn(b"< HTTP/1.1 100 Continue", p.stderr)
            self.assertLess(float(total), EXPECT_TIMEOUT / 2,
                            "curl waited for its expect timeout")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_100_continue_before_the_body_is_sent(self):
        with self.serve() as srv:
            c = self.conn(srv)
            c.send(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            status, _, body = c.response()
            self.assertEqual(status, b"HTTP/1.1 100 Continue")
            self.assertEqual(body, b"")
            c.send(b"hello")
            status, fields, body = c.response()
            self.assertEqual(status, b"HTTP/1.1 200 OK")
            self.assertEqual(body, b"hello")
            # No 100 unless asked for.
            c.send(b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n")
            c.send(b"abc")
            status, _, body = c.response()
            self.assertEqual((status, body), (b"HTTP/1.1 200 OK", b"abc"))
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_body_over_max_body_is_413_without_100(self):
        with self.serve("-O", "max_body=1k") as srv:
            c = self.conn(srv)
            c.send(b"POST / HTTP/1.1\r\nContent-Length: 2048\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            status, fields, _ = c.response()
            self.assertEqual(status, b"HTTP/1.1 413 Content Too Large")
            self.assertEqual(fields[b"connection"], b"close")
            self.assertTrue(c.closed())
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_malformed_request_is_400_and_closes(self):
        with self.serve() as srv:
            for bad in (b"NOT HTTP\r\n\r\n",
                        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
                        b"\r\n\r\n"):
                c = self.conn(srv)
                c.send(bad)
                status, _, _ = c.response()
                self.assertEqual(status, b"HTTP/1.1 400 Bad Request", bad)
                self.assertTrue(c.closed())
            self.assertEqual(srv.stop(), 0, srv.stderr())

    @unittest.skipIf(CURL is None, "curl not installed")
    def test_keep_alive(self):
        with self.serve() as srv:
            p = self.curl("-w", "\n%{num_connects}\n", self.url(srv, "/a"),
                          self.url(srv, "/b"))
            lines = p.stdout.decode().split("\n")
            self.assertEqual(lines.count("hello from netkit"), 2)
            # The second URL reused the first's connection.
            self.assertEqual(lines[-2], "0")
            c = self.conn(srv)
            c.send(b"GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n")
            self.assertEqual(c.response()[2], b"hello from netkit\n")
            status, fields, body = c.response(head=True)
            self.assertEqual((status, body), (b"HTTP/1.1 200 OK", b""))
            self.assertEqual(fields[b"content-length"], b"18")
            # Connection: close, and HTTP/1.0 without keep-alive, close
            # once answered; HTTP/1.0 with keep-alive does not.
            for req, stays in ((b"GET / HTTP/1.1\r\nConnection: close", 0),
                               (b"GET / HTTP/1.0", 0),
                               (b"GET / HTTP/1.0\r\nConnection: keep-alive",
                                1)):
                c = self.conn(srv)
                c.send(req + b"\r\n\r\n")
                status, fields, _ = c.response()
                self.assertEqual(status, b"HTTP/1.1 200 OK", req)
                self.assertEqual(fields.get(b"connection"),
                                 None if stays else b"close", req)
                if stays:
                    c.send(b"GET / HTTP/1.0\r\n\r\n")
                    self.assertEqual(c.response()[0], b"HTTP/1.1 200 OK")
                self.assertTrue(c.closed(), req)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_half_request_at_message_timeout_is_408(self):
        with self.serve("--message-timeout", "1") as srv:
            c = self.conn(srv)
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")  # no end of head
            status, fields, body = c.response()
            self.assertEqual(status, b"HTTP/1.1 408 Request Timeout")
            self.assertEqual(fields[b"connection"], b"close")
            self.assertTrue(c.closed())
            srv.wait_for("(message timeout)")
            # A body that stops short is half a request too.
            c = self.conn(srv)
            c.send(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
            self.assertEqual(c.response()[0], b"HTTP/1.1 408 Request Timeout")
            self.assertTrue(c.closed())
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_half_request_at_idle_timeout_is_408(self):
        with self.serve("--idle-timeout", "1", "--message-timeout",
                        "0") as srv:
            c = self.conn(srv)
            c.send(b"GET / HTTP/1.1\r\n")
            self.assertEqual(c.response()[0], b"HTTP/1.1 408 Request Timeout")
            self.assertTrue(c.closed())
            srv.wait_for("(idle timeout)")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_idle_keep_alive_connection_closes_silently(self):
        with self.serve("--idle-timeout", "1") as srv:
            c = self.conn(srv)
            c.send(b"GET / HTTP/1.1\r\n\r\n")
            self.assertEqual(c.response()[0], b"HTTP/1.1 200 OK")
            # Then nothing: the server closes without a 408.
            self.assertEqual(c.recv(4096), b"")
            srv.wait_for("(idle timeout)")
            self.assertEqual(srv.stop(), 0, srv.stderr())


if __name__ == "__main__":
    nktest.main()
