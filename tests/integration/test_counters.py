"""Counters per listener: a known exchange over TCP and UDP, then the
SIGUSR1 lines and the lines at exit give its exact counts.  Clients bind
127.0.0.2 (allowed) and 127.0.0.3 (denied) to be told apart."""
import re
import signal
import socket
import unittest

import nktest
from nktest import Server, config_file, frame, recv_frame

CONFIG = """[listen.main]
proto = framed
host = 127.0.0.1
port = 0
deny = 127.0.0.3

[listen.dns]
proto = framed
transport = udp
host = 127.0.0.1
port = 0
deny = 127.0.0.3
"""

TCP_LINE = ("[listen.main] accepted 3, active 0, refused 1 (denied 1), "
            "messages 2 in / 2 out, bytes 16 in / 26 out, decode errors 0, "
            "timeouts 0, closed 2 (peer 1, too_big 1)")
UDP_LINE = ("[listen.dns] datagrams 4 in, messages 2 in / 2 out, bytes "
            "24 in / 26 out, decode errors 1, dropped 2 (malformed 1, "
            "denied 1)")


def bound(kind, src):
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(nktest.DEADLINE)
    s.bind((src, 0))
    return s


def exchange(srv):
    """The known exchange: 3 TCP connections (one answered twice, one sent
    a frame over max_frame, one denied) and 4 datagrams (2 answered, 1
    malformed, 1 denied).  Returns once the server has logged all of it."""
    tcp, udp = srv.port("tcp"), srv.port("udp")
    with bound(socket.SOCK_STREAM, "127.0.0.2") as a:
        a.connect(("127.0.0.1", tcp))
        for _ in range(2):
            a.sendall(frame(b"hi"))
            assert recv_frame(a) == b"echo : hi"
    with bound(socket.SOCK_STREAM, "127.0.0.2") as b:
        b.connect(("127.0.0.1", tcp))
        b.sendall(b"\xff\xff\xff\xff")
        assert b.recv(10) == b""
    with bound(socket.SOCK_STREAM, "127.0.0.3") as c:
        c.connect(("127.0.0.1", tcp))
        try:
            c.recv(10)
        except ConnectionResetError:
            pass
    srv.wait_count("Connection closed", 2)
    srv.wait_for("Denied 127.0.0.3")
    with bound(socket.SOCK_DGRAM, "127.0.0.2") as ok, \
            bound(socket.SOCK_DGRAM, "127.0.0.3") as bad:
        bad.sendto(frame(b"no"), ("127.0.0.1", udp))
        srv.wait_for("on [listen.dns]")
        ok.sendto(b"\x05\x00\x00\x00ab", ("127.0.0.1", udp))
        srv.wait_for("Dropped a datagram")
        for _ in range(2):
            ok.sendto(frame(b"hi"), ("127.0.0.1", udp))
            assert ok.recv(100) == frame(b"echo : hi")


class CountersTest(unittest.TestCase):
    def test_sigusr1_and_exit(self):
        with config_file(CONFIG) as path, Server("-c", path) as srv:
            exchange(srv)
            start = len(srv.lines)
            srv.proc.send_signal(signal.SIGUSR1)
            srv.wait_for(TCP_LINE, start=start)
            srv.wait_for(UDP_LINE, start=start)
            # Still serving after SIGUSR1.
            with nktest.connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"x"))
                self.assertEqual(recv_frame(s), b"echo : x")
            self.assertEqual(srv.stop(), 0)
            err = srv.stderr()
            self.assertIn("[listen.main] accepted 4, active 0, refused 1 "
                          "(denied 1), messages 3 in / 3 out", err)
            self.assertIn(UDP_LINE, err)
            # The older exit lines are still there.
            self.assertIn("[listen.main] denied 1 connection", err)
            self.assertIn("[listen.dns] dropped 1 malformed datagram", err)

    def test_several_workers_summed(self):
        with Server("-p", "framed", "-H", "127.0.0.1", "-P", "0",
                    "-w", "4") as srv:
            for i in range(8):
                with nktest.connect("127.0.0.1", srv.port()) as s:
                    s.sendall(frame(b"%d" % i))
                    self.assertEqual(recv_frame(s), b"echo : %d" % i)
            srv.wait_count("Connection closed", 8)
            start = len(srv.lines)
            srv.proc.send_signal(signal.SIGUSR1)
            m = srv.wait_for(re.compile(
                r"\[listen\.cli\] accepted (\d+), active 0, refused 0, "
                r"messages (\d+) in / (\d+) out"), start=start)
            self.assertEqual(m.groups(), ("8", "8", "8"))
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
