"""A codec with a head and a tail, through every send path of the real host.

The fixture wrap.so (tests/fixtures/variant.c built with FIX_WRAP) takes each
chunk read, or each datagram, as one message and echoes it; its encode puts
"<" before every message and ">\\n" after it.  So each reply on the wire must
be exactly b"<" + chunk + b">\\n": the TCP copy path (small replies gathered
in the worker's buffer), the TCP direct path (a reply of 16 KiB or more
written from the plugin's iovecs), the UDP reply slots, and the client, which
frames its requests with the same encode.

Environment: NK_BUILDDIR (the main build tree, for the fixture), plus
nktest's NETKIT and NK_SRCDIR.
"""
import os
import re
import socket
import unittest

import nktest
from nktest import HOSTS, SRCDIR, Server, connect, family_of, run

BUILDDIR = os.environ.get("NK_BUILDDIR") or os.path.join(SRCDIR, "build")
FIXTURES = os.path.join(BUILDDIR, "tests", "fixtures", "plugins")
MAX_UDP = {socket.AF_INET: 65507, socket.AF_INET6: 65527}  # largest payload
NO_REPLY_WAIT = 0.3  # seconds to wait before deciding "no reply"
WRAP = re.compile(rb"<(x+)>\n")


def recv_until(sock, end):
    """Bytes until the received data ends with `end`."""
    buf = b""
    while not buf.endswith(end):
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise AssertionError("connection closed after %r" % buf[-64:])
        buf += chunk
    return buf


class WrapTcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-L", FIXTURES, "-p", "wrap", "-H", "127.0.0.1",
                         "-P", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_small_replies(self):
        # The copy path: head, payload and tail, one reply per read.
        with connect("127.0.0.1", self.srv.port()) as s:
            for msg in (b"hello", b"a", b"two words\n"):
                s.sendall(msg)
                self.assertEqual(recv_until(s, b">\n"), b"<" + msg + b">\n")

    def test_large_reply(self):
        # 200 KiB of x: the server reads it in chunks of 16 KiB and more, and
        # each chunk's reply (16 KiB and more: the direct path) comes back
        # wrapped whole, with the tail after its last byte.
        total = 200 * 1024
        with connect("127.0.0.1", self.srv.port()) as s:
            s.sendall(b"x" * total)
            buf, got = b"", 0
            while got < total:
                chunk = s.recv(1 << 16)
                self.assertTrue(chunk, "closed after %d of %d" % (got, total))
                buf += chunk
                pos = 0
                for m in WRAP.finditer(buf):
                    self.assertEqual(m.start(), pos, buf[pos:pos + 64])
                    got += len(m.group(1))
                    pos = m.end()
                buf = buf[pos:]
            self.assertEqual(got, total)
            self.assertEqual(buf, b"")


class WrapUdpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-L", FIXTURES, "-p", "wrap", "-u", "-P", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def udp(self, host):
        s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((host, 0))
        s.settimeout(nktest.DEADLINE)
        return s

    def test_datagrams_wrapped(self):
        # One reply datagram per datagram: head + payload + tail.
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), self.udp(host) as s:
                for msg in (b"hello", b""):
                    s.sendto(msg, (host, port))
                    self.assertEqual(s.recv(1 << 17), b"<" + msg + b">\n")

    def test_largest_wrapped_datagram(self):
        # The largest payload whose wrapped reply still fits a datagram
        # comes back whole; three bytes more make the reply too large for
        # the protocol, and it is dropped rather than cut.
        port = self.srv.port("udp")
        for host in HOSTS:
            n = MAX_UDP[family_of(host)] - 3
            with self.subTest(host=host), self.udp(host) as s:
                s.sendto(b"x" * n, (host, port))
                self.assertEqual(s.recv(1 << 17), b"<" + b"x" * n + b">\n")
                s.sendto(b"x" * (n + 3), (host, port))
                s.settimeout(NO_REPLY_WAIT)
                with self.assertRaises(socket.timeout):
                    s.recv(1 << 17)
                # The server goes on answering.
                s.settimeout(nktest.DEADLINE)
                s.sendto(b"ok", (host, port))
                self.assertEqual(s.recv(1 << 17), b"<ok>\n")


class WrapConnectTest(unittest.TestCase):
    def test_client_wraps_requests(self):
        # The client sends "<hi>\n"; the server takes that whole chunk as
        # the payload and wraps it again; the client, whose decode takes a
        # whole reply as the payload, prints it and a newline.
        for udp in (False, True):
            with self.subTest(udp=udp):
                args = ["-L", FIXTURES, "-p", "wrap", "-H", "127.0.0.1",
                        "-P", "0"] + (["-u"] if udp else [])
                with Server(*args) as srv:
                    port = srv.port("udp" if udp else "tcp")
                    p = run("connect", "-L", FIXTURES, "-p", "wrap",
                            *(["-u"] if udp else []), "-m", "hi", "-n", "2",
                            "127.0.0.1", str(port))
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(p.stdout, b"<<hi>\n>\n\n" * 2)
                    self.assertEqual(srv.stop(), 0, srv.stderr())


if __name__ == "__main__":
    nktest.main()
