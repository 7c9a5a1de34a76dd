"""`netkit connect --proxy-protocol v1|v2`: the PROXY header goes first,
with the connection's own addresses, byte for byte as HAProxy's
specification writes it; a small Python server checks the bytes and then
answers as a raw echo would."""
import socket
import struct
import threading
import unittest

import nktest
from nktest import HOSTS

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def expected(version, client, server):
    """The header for a connection from client to server ((host, port))."""
    v6 = ":" in client[0]
    if version == "v1":
        return b"PROXY %s %s %s %d %d\r\n" % (
            b"TCP6" if v6 else b"TCP4", client[0].encode(),
            server[0].encode(), client[1], server[1])
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    addrs = (socket.inet_pton(fam, client[0]) + socket.inet_pton(fam, server[0])
             + struct.pack("!HH", client[1], server[1]))
    return SIG + bytes([0x21, 0x21 if v6 else 0x11]) + \
        struct.pack("!H", len(addrs)) + addrs


class HeaderServer:
    """Accepts one connection, reads the header's bytes (as many as
    `expected` says), then echoes every chunk with a prefix."""

    def __init__(self, host, version):
        self.sock = socket.socket(nktest.family_of(host))
        self.sock.bind((host, 0))
        self.sock.listen()
        self.sock.settimeout(nktest.DEADLINE)
        self.version, self.got, self.want = version, None, None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, peer = self.sock.accept()
        with conn:
            conn.settimeout(nktest.DEADLINE)
            self.want = expected(self.version, peer[:2],
                                 self.sock.getsockname()[:2])
            got = b""
            while len(got) < len(self.want):
                chunk = conn.recv(len(self.want) - len(got))
                if not chunk:
                    break
                got += chunk
            self.got = got
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                conn.sendall(b">" + chunk)

    def port(self):
        return self.sock.getsockname()[1]


class ConnectProxyTest(unittest.TestCase):
    def test_header_bytes(self):
        for host in HOSTS:
            for version in ("v1", "v2"):
                with self.subTest(host=host, version=version):
                    srv = HeaderServer(host, version)
                    r = nktest.run("connect", "--proxy-protocol", version,
                                   "-m", "hi", host, str(srv.port()))
                    srv.thread.join(nktest.DEADLINE)
                    srv.sock.close()
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(r.stdout, b">hi\n")
                    self.assertEqual(srv.got, srv.want)

    def test_stream_sends_it_too(self):
        srv = HeaderServer("127.0.0.1", "v2")
        r = nktest.run("connect", "--stream", "--proxy-protocol", "v2",
                       "127.0.0.1", str(srv.port()), input=b"abc")
        srv.thread.join(nktest.DEADLINE)
        srv.sock.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(srv.got, srv.want)
        self.assertEqual(r.stdout, b">abc")

    def test_usage_errors(self):
        r = nktest.run("connect", "--proxy-protocol", "v3", "127.0.0.1", "9")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"netkit: option --proxy-protocol:", r.stderr)
        r = nktest.run("connect", "-u", "--proxy-protocol", "v1",
                       "127.0.0.1", "9")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr,
                         b"netkit: --proxy-protocol works over tcp only\n")


if __name__ == "__main__":
    nktest.main()
