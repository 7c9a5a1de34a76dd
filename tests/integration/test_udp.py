"""`netkit serve -u` (UDP), driven by plain Python datagram sockets.  Every
case runs on 127.0.0.1 and ::1 (where the machine has IPv6): each datagram
is answered with one datagram to its sender, a malformed framed datagram is
dropped and counted, and the largest datagrams pass whole."""
import re
import socket
import unittest

import nktest
from nktest import HOSTS, Server, family_of, frame

PREFIX = b">Server echo : "
NO_REPLY_WAIT = 0.3  # seconds to wait before deciding "no reply"
MAX_UDP = {socket.AF_INET: 65507, socket.AF_INET6: 65527}  # largest payload


def udp(host, timeout=nktest.DEADLINE):
    """A UDP socket bound to `host` (so its port is known before it sends),
    with a receive buffer for 64 KiB datagrams."""
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((host, 0))
    s.settimeout(timeout)
    return s


def ask(sock, host, port, data):
    """Send one datagram; return (reply, the address it came from)."""
    sock.sendto(data, (host, port))
    reply, addr = sock.recvfrom(1 << 17)
    return reply, addr[:2]


def pattern(n):
    """n bytes that are not all alike, so a cut or shift shows."""
    return bytes(i * 7 % 251 for i in range(n))


class UdpTestCase(unittest.TestCase):
    def assertNoReply(self, sock):
        """Nothing comes back within NO_REPLY_WAIT seconds."""
        sock.settimeout(NO_REPLY_WAIT)
        try:
            data = sock.recv(1 << 17)
        except socket.timeout:
            return
        finally:
            sock.settimeout(nktest.DEADLINE)
        self.fail("a reply came back: %r" % data[:64])


class RawUdpTest(UdpTestCase):
    @classmethod
    def setUpClass(cls):
        # 20 clients at once on one address: past the default udp_rate,
        # which test_robust.py tests.
        cls.srv = Server("-p", "raw", "-u", "-P", "0", "--udp-rate", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_listens_on_every_host(self):
        # One UDP socket per loopback address, all on the one picked port.
        self.assertEqual(sorted(a for a, _, _ in self.srv.addrs()),
                         sorted(HOSTS))
        self.assertEqual({t for _, _, t in self.srv.addrs()}, {"udp"})
        self.assertEqual(len({p for _, p, _ in self.srv.addrs()}), 1)

    def test_echo_to_sender(self):
        # hello -> ">Server echo : hello", sent back from the port asked.
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                reply, addr = ask(s, host, port, b"hello")
                self.assertEqual(reply, PREFIX + b"hello")
                self.assertEqual(addr, (host, port))

    def test_exit_is_echoed(self):
        # No exit word over UDP: "exit" is a datagram like any other.
        port = self.srv.port("udp")
        for host in HOSTS:
            for word in (b"exit", b"exit\n", b"exit\r\n"):
                with self.subTest(host=host, word=word), udp(host) as s:
                    self.assertEqual(ask(s, host, port, word)[0],
                                     PREFIX + word)
                    # ...and the server is still there.
                    self.assertEqual(ask(s, host, port, b"after")[0],
                                     PREFIX + b"after")

    def test_each_datagram_one_reply(self):
        # Three datagrams in a row are three replies, never merged.
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                for i in range(3):
                    s.sendto(b"d%d" % i, (host, port))
                for i in range(3):
                    self.assertEqual(s.recv(1000), PREFIX + b"d%d" % i)

    def test_empty_datagram_gets_the_prefix(self):
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                self.assertEqual(ask(s, host, port, b"")[0], PREFIX)

    def test_binary_datagram(self):
        # NUL and every byte value pass unchanged.
        port = self.srv.port("udp")
        payload = bytes(range(256))
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                self.assertEqual(ask(s, host, port, payload)[0],
                                 PREFIX + payload)

    def test_largest_reply_with_prefix(self):
        # The largest payload whose reply (prefix included) still fits in
        # one datagram comes back whole.
        port = self.srv.port("udp")
        for host in HOSTS:
            payload = pattern(MAX_UDP[family_of(host)] - len(PREFIX))
            with self.subTest(host=host), udp(host) as s:
                self.assertEqual(ask(s, host, port, payload)[0],
                                 PREFIX + payload)

    def test_many_clients_at_once(self):
        # 20 sockets on 20 threads, 20 datagrams each: all answered right,
        # each to its own sender.
        port = self.srv.port("udp")

        def client(i):
            host = HOSTS[i % len(HOSTS)]
            wrong = []
            with udp(host) as s:
                for j in range(20):
                    msg = b"client %d datagram %d" % (i, j)
                    reply, addr = ask(s, host, port, msg)
                    if reply != PREFIX + msg or addr != (host, port):
                        wrong.append((j, reply, addr))
            return wrong

        self.assertEqual(nktest.concurrently(20, client),
                         {i: [] for i in range(20)})


class PureEchoUdpTest(UdpTestCase):
    """-O prefix= makes raw a plain RFC 862 echo."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-p", "raw", "-u", "-P", "0", "-O", "prefix=")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_largest_datagram(self):
        # 65507 bytes over IPv4, 65527 over IPv6: echoed without a cut.
        port = self.srv.port("udp")
        for host in HOSTS:
            payload = pattern(MAX_UDP[family_of(host)])
            with self.subTest(host=host, size=len(payload)), udp(host) as s:
                reply = ask(s, host, port, payload)[0]
                self.assertEqual(len(reply), len(payload))
                self.assertEqual(reply, payload)

    def test_empty_datagram(self):
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                self.assertEqual(ask(s, host, port, b"")[0], b"")


class FramedUdpTest(UdpTestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-p", "framed", "-u", "-P", "0", "--udp-rate", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_one_message_per_datagram(self):
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                reply, addr = ask(s, host, port, frame(b"hello"))
                self.assertEqual(reply, b"\x0c\x00\x00\x00echo : hello")
                self.assertEqual(addr, (host, port))

    def test_empty_message(self):
        # Length 0 in a 4-byte datagram is a valid empty message.
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                self.assertEqual(ask(s, host, port, frame(b""))[0],
                                 b"\x07\x00\x00\x00echo : ")

    def test_malformed_datagrams_are_never_answered(self):
        # Shorter or longer than its length field says, two messages in one
        # datagram, a cut header, nothing at all: dropped, and the server
        # still answers the next good datagram (which comes back first).
        port = self.srv.port("udp")
        bad = [b"\x05\x00\x00\x00hell", b"\x05\x00\x00\x00hellox",
               frame(b"one") + frame(b"two"), b"\x01\x00", b""]
        for host in HOSTS:
            for data in bad:
                with self.subTest(host=host, data=data), udp(host) as s:
                    s.sendto(data, (host, port))
                    self.assertNoReply(s)
                    self.assertEqual(ask(s, host, port, frame(b"good"))[0],
                                     b"\x0b\x00\x00\x00echo : good")

    def test_many_clients_at_once(self):
        port = self.srv.port("udp")

        def client(i):
            host = HOSTS[i % len(HOSTS)]
            wrong = []
            with udp(host) as s:
                for j in range(20):
                    msg = b"c%d/%d" % (i, j)
                    reply = ask(s, host, port, frame(msg))[0]
                    if reply != frame(b"echo : " + msg):
                        wrong.append((j, reply))
            return wrong

        self.assertEqual(nktest.concurrently(20, client),
                         {i: [] for i in range(20)})


class FramedUdpOptionsTest(UdpTestCase):
    def test_largest_datagram_empty_prefix(self):
        # With an empty prefix the reply is as long as the request: a
        # datagram of the largest size (header included) comes back whole.
        with Server("-p", "framed", "-u", "-P", "0", "-O", "prefix=") as srv:
            port = srv.port("udp")
            for host in HOSTS:
                payload = pattern(MAX_UDP[family_of(host)] - 4)
                with self.subTest(host=host, size=len(payload)), \
                        udp(host) as s:
                    reply = ask(s, host, port, frame(payload))[0]
                    self.assertEqual(len(reply), len(payload) + 4)
                    self.assertEqual(reply, frame(payload))
            self.assertEqual(srv.stop(), 0)

    def test_dns_framing(self):
        # length_bytes=2 byte_order=big over UDP too.
        with Server("-p", "framed", "-u", "-P", "0", "-H", "127.0.0.1",
                    "-O", "length_bytes=2", "-O", "byte_order=big",
                    "-O", "prefix=") as srv:
            with udp("127.0.0.1") as s:
                self.assertEqual(
                    ask(s, "127.0.0.1", srv.port("udp"), b"\x00\x02hi")[0],
                    b"\x00\x02hi")
                s.sendto(b"\x00\x03hi", ("127.0.0.1", srv.port("udp")))
                self.assertNoReply(s)
            self.assertEqual(srv.stop(), 0)

    def test_drops_are_logged_and_counted(self):
        # Each drop is logged with its size and sender (every one at -v),
        # and the total is reported at shutdown.
        with Server("-p", "framed", "-u", "-P", "0", "-v") as srv:
            port = srv.port("udp")
            sent = 0
            for host in HOSTS:
                with udp(host) as s:
                    me = s.getsockname()[1]
                    peer = host if ":" not in host else "[%s]" % host
                    for data in (b"\x05\x00\x00\x00hell",
                                 b"\x05\x00\x00\x00hellox"):
                        start = len(srv.lines)
                        s.sendto(data, (host, port))
                        sent += 1
                        srv.wait_for(re.compile(
                            r"Dropped a datagram of %d bytes from %s:%d: "
                            r"its length field disagrees with its size"
                            % (len(data), re.escape(peer), me)), start=start)
                        self.assertNoReply(s)
                    self.assertEqual(ask(s, host, port, frame(b"ok"))[0],
                                     frame(b"echo : ok"))
            self.assertEqual(srv.stop(), 0)
            self.assertIn("[listen.cli] dropped %d malformed datagram"
                          % sent, srv.stderr())

    def test_first_drop_is_a_warning(self):
        # Without -v the first drop is still logged, and counted at exit.
        with Server("-p", "framed", "-u", "-P", "0", "-H", "127.0.0.1") as srv:
            port = srv.port("udp")
            with udp("127.0.0.1") as s:
                me = s.getsockname()[1]
                s.sendto(b"\x09\x00\x00\x00short", ("127.0.0.1", port))
                srv.wait_for("Dropped a datagram of 9 bytes from "
                             "127.0.0.1:%d" % me)
                self.assertNoReply(s)
            self.assertEqual(srv.stop(), 0)
            self.assertRegex(srv.stderr(), r"\[listen\.cli\] dropped 1 "
                                           r"malformed datagrams?\n?")

    def test_over_max_frame_is_dropped(self):
        # A datagram whose length is above max_frame is dropped and counted,
        # never answered ("UDP: drops the datagram", netkit plugins framed).
        with Server("-p", "framed", "-u", "-P", "0", "-H", "127.0.0.1",
                    "-O", "max_frame=4") as srv:
            port = srv.port("udp")
            with udp("127.0.0.1") as s:
                self.assertEqual(ask(s, "127.0.0.1", port, frame(b"1234"))[0],
                                 frame(b"echo : 1234"))
                s.sendto(frame(b"12345"), ("127.0.0.1", port))
                self.assertNoReply(s)
                self.assertEqual(ask(s, "127.0.0.1", port, frame(b"4321"))[0],
                                 frame(b"echo : 4321"))
            self.assertEqual(srv.stop(), 0)
            self.assertRegex(srv.stderr(), r"\[listen\.cli\] dropped 1 "
                                           r"malformed datagrams?\n?")


if __name__ == "__main__":
    nktest.main()
