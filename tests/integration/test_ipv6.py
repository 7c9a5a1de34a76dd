"""IPv6 and address handling of `netkit serve`: the dual-stack `::`
listener (IPv4 peers logged as plain IPv4), IPV6_V6ONLY, -4/-6, bracketed
and scoped literals, names that resolve to several addresses, and UDP over
a dual-stack socket.  Everything stays on loopback (a `::` listener is only
ever reached through 127.0.0.1 and ::1)."""
import re
import socket
import unittest

import nktest
from nktest import HOSTS, Server, connect, frame, recv_exact, recv_frame

PREFIX = b">Server echo : "


def link_local_on_lo():
    """A link-local (fe80::/10) address configured on lo, or None."""
    try:
        with open("/proc/net/if_inet6") as f:
            rows = [line.split() for line in f]
    except OSError:
        return None
    for row in rows:
        if len(row) == 6 and row[5] == "lo" and row[0].startswith("fe8"):
            packed = bytes.fromhex(row[0])
            return socket.inet_ntop(socket.AF_INET6, packed)
    return None


def echo_once(host, port, msg=b"hi"):
    """One raw echo over TCP; return the reply and the client's port."""
    with connect(host, port) as s:
        s.sendall(msg)
        reply = recv_exact(s, len(PREFIX) + len(msg))
        return reply, s.getsockname()[1]


def assert_refused(test, host, port):
    """A TCP connect to host:port fails."""
    try:
        s = socket.create_connection((host, port), timeout=nktest.DEADLINE)
    except OSError:
        return
    s.close()
    test.fail("%s:%d accepted a connection" % (host, port))


@unittest.skipUnless("::1" in HOSTS, "this machine cannot bind ::1")
class DualStackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-p", "raw", "-H", "::", "-P", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_one_socket_on_any(self):
        # -H :: is one socket on [::], not one per family.
        self.assertEqual(self.srv.addrs(), [("::", self.srv.port(), "tcp")])
        self.srv.wait_for("Listen on [::]:%d (tcp, raw)" % self.srv.port())

    def test_reached_over_both_families(self):
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                reply, _ = echo_once(host, self.srv.port())
                self.assertEqual(reply, PREFIX + b"hi")

    def test_ipv4_peer_logged_as_plain_ipv4(self):
        # SPEC section 4: an IPv4 peer of a dual-stack socket is shown as
        # 127.0.0.1:PORT, never as ::ffff:127.0.0.1 and never bracketed.
        start = len(self.srv.lines)
        _, me = echo_once("127.0.0.1", self.srv.port())
        self.srv.wait_for(re.compile(r"\[\*\] Connection from 127\.0\.0\.1:%d \[cli\]$"
                                     % me), start=start)
        self.srv.wait_for(re.compile(r"\[\*\] Connection closed "
                                     r"127\.0\.0\.1:%d \[cli\] \(in \d+ B, "
                                     r"out \d+ B, \d+ ms\)$" % me), start=start)
        self.assertNotIn("::ffff:", self.srv.stderr())

    def test_ipv6_peer_bracketed(self):
        start = len(self.srv.lines)
        _, me = echo_once("::1", self.srv.port())
        self.srv.wait_for(re.compile(r"\[\*\] Connection from \[::1\]:%d \[cli\]$"
                                     % me), start=start)
        self.srv.wait_for(re.compile(r"\[\*\] Connection closed \[::1\]:%d \[cli\] "
                                     r"\(in \d+ B, out \d+ B, \d+ ms\)$"
                                     % me), start=start)


@unittest.skipUnless("::1" in HOSTS, "this machine cannot bind ::1")
class V6OnlyTest(unittest.TestCase):
    def test_v6only_refuses_ipv4(self):
        # -o IPV6_V6ONLY=1 -H ::: ::1 is served, 127.0.0.1 is not.
        with Server("-p", "raw", "-H", "::", "-P", "0",
                    "-o", "IPV6_V6ONLY=1") as srv:
            reply, _ = echo_once("::1", srv.port())
            self.assertEqual(reply, PREFIX + b"hi")
            assert_refused(self, "127.0.0.1", srv.port())
            self.assertNotIn("Connection from 127.0.0.1", srv.stderr())
            self.assertEqual(srv.stop(), 0)

    def test_v6only_zero_is_dual_stack(self):
        # The explicit opposite keeps the dual stack.
        with Server("-p", "raw", "-H", "::", "-P", "0",
                    "-o", "IPV6_V6ONLY=0") as srv:
            for host in ("127.0.0.1", "::1"):
                with self.subTest(host=host):
                    self.assertEqual(echo_once(host, srv.port())[0],
                                     PREFIX + b"hi")
            self.assertEqual(srv.stop(), 0)

    def test_udp_v6only_ignores_ipv4(self):
        # The same over UDP: an IPv4 datagram never reaches the listener.
        with Server("-p", "raw", "-u", "-H", "::", "-P", "0",
                    "-o", "IPV6_V6ONLY=1") as srv:
            port = srv.port("udp")
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6:
                s6.settimeout(nktest.DEADLINE)
                s6.sendto(b"six", ("::1", port))
                self.assertEqual(s6.recv(100), PREFIX + b"six")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s4:
                s4.settimeout(0.3)
                s4.sendto(b"four", ("127.0.0.1", port))
                with self.assertRaises(OSError):  # timeout or ICMP refusal
                    s4.recv(100)
            self.assertEqual(srv.stop(), 0)


class FamilyTest(unittest.TestCase):
    @unittest.skipUnless("::1" in HOSTS, "this machine cannot bind ::1")
    def test_dash_6_default_host_is_only_ipv6_loopback(self):
        with Server("-p", "raw", "-6", "-P", "0") as srv:
            port = srv.port()
            self.assertEqual(srv.addrs(), [("::1", port, "tcp")])
            srv.wait_for("Listen on [::1]:%d (tcp, raw)" % port)
            self.assertEqual(echo_once("::1", port)[0], PREFIX + b"hi")
            assert_refused(self, "127.0.0.1", port)
            self.assertEqual(srv.stop(), 0)

    def test_dash_4_default_host_is_only_ipv4_loopback(self):
        with Server("-p", "raw", "-4", "-P", "0") as srv:
            port = srv.port()
            self.assertEqual(srv.addrs(), [("127.0.0.1", port, "tcp")])
            srv.wait_for("Listen on 127.0.0.1:%d (tcp, raw)" % port)
            self.assertEqual(echo_once("127.0.0.1", port)[0], PREFIX + b"hi")
            self.assertEqual(srv.stop(), 0)

    def test_default_host_is_both_loopbacks(self):
        # No -H: 127.0.0.1 and ::1 (where the machine has it), one port.
        with Server("-p", "raw", "-P", "0") as srv:
            port = srv.port()
            self.assertEqual(sorted(srv.addrs()),
                             sorted((h, port, "tcp") for h in HOSTS))
            self.assertEqual(srv.stop(), 0)


class LiteralTest(unittest.TestCase):
    @unittest.skipUnless("::1" in HOSTS, "this machine cannot bind ::1")
    def test_bracketed_literal(self):
        # -H [::1] is the same as -H ::1.
        with Server("-p", "framed", "-H", "[::1]", "-P", "0") as srv:
            port = srv.port()
            self.assertEqual(srv.addrs(), [("::1", port, "tcp")])
            srv.wait_for("Listen on [::1]:%d (tcp, framed)" % port)
            with connect("::1", port) as s:
                s.sendall(frame(b"brackets"))
                self.assertEqual(recv_frame(s), b"echo : brackets")
            self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless("::1" in HOSTS, "this machine cannot bind ::1")
    def test_numeric_scope_on_loopback(self):
        # A scope id written as a number (lo's index) is accepted.  (glibc's
        # getaddrinfo takes an interface *name* only on link-local
        # addresses, so "::1%lo" is not tried here.)
        try:
            index = socket.if_nametoindex("lo")
        except OSError:
            self.skipTest("no interface named lo")
        with Server("-p", "raw", "-H", "::1%%%d" % index, "-P", "0") as srv:
            port = srv.port()
            self.assertEqual([(a.split("%")[0], p, t)
                              for a, p, t in srv.addrs()],
                             [("::1", port, "tcp")])
            self.assertEqual(echo_once("::1", port)[0], PREFIX + b"hi")
            self.assertEqual(srv.stop(), 0)

    def test_link_local_with_scope(self):
        # fe80::...%lo: only where lo has a link-local address (most Linux
        # machines do not give lo one).
        addr = link_local_on_lo()
        if addr is None:
            self.skipTest("lo has no link-local (fe80::/10) address here "
                          "(see ip -6 addr show lo)")
        host = "%s%%lo" % addr
        scope = socket.if_nametoindex("lo")
        with Server("-p", "raw", "-H", host, "-P", "0") as srv:
            port = srv.port()
            srv.wait_for("Listen on [%s]:%d (tcp, raw)" % (host, port))
            with socket.create_connection((addr, port, 0, scope),
                                          timeout=nktest.DEADLINE) as s:
                s.sendall(b"scoped")
                self.assertEqual(recv_exact(s, len(PREFIX) + 6),
                                 PREFIX + b"scoped")
            self.assertEqual(srv.stop(), 0)

    def test_name_binds_every_address(self):
        # -H localhost binds every address localhost resolves to, on one
        # port.
        want = set()
        for family, _, _, _, sa in socket.getaddrinfo(
                "localhost", 0, type=socket.SOCK_STREAM):
            if family == socket.AF_INET6 and "::1" not in HOSTS:
                continue
            want.add(sa[0])
        with Server("-p", "raw", "-H", "localhost", "-P", "0") as srv:
            port = srv.port()
            self.assertEqual({a for a, _, _ in srv.addrs()}, want)
            self.assertEqual(len(srv.addrs()), len(want))
            self.assertEqual({p for _, p, _ in srv.addrs()}, {port})
            for host in want:
                with self.subTest(host=host):
                    self.assertEqual(echo_once(host, port)[0],
                                     PREFIX + b"hi")
            self.assertEqual(srv.stop(), 0)

    def test_repeated_hosts_share_the_port(self):
        # -H 127.0.0.1 -H ::1: two sockets, one port picked for both.
        args = ["-p", "raw", "-P", "0"]
        for h in HOSTS:
            args += ["-H", h]
        with Server(*args) as srv:
            self.assertEqual(sorted(a for a, _, _ in srv.addrs()),
                             sorted(HOSTS))
            self.assertEqual(len({p for _, p, _ in srv.addrs()}), 1)
            for host in HOSTS:
                with self.subTest(host=host):
                    self.assertEqual(echo_once(host, srv.port())[0],
                                     PREFIX + b"hi")
            self.assertEqual(srv.stop(), 0)

    def test_unresolvable_host_fails(self):
        # A host that does not resolve (here: a scope naming no interface,
        # refused without any DNS query) is one error line naming it.
        r = nktest.run("serve", "-P", "0", "-H", "fe80::1%nosuchif0")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr.decode(),
                         r"^netkit: -H fe80::1%nosuchif0: cannot resolve "
                         r"'fe80::1%nosuchif0': .+\n$")


@unittest.skipUnless("::1" in HOSTS, "this machine cannot bind ::1")
class DualStackUdpTest(unittest.TestCase):
    def test_udp_any_answers_ipv4_sender(self):
        # A UDP socket on [::] answers an IPv4 sender over IPv4, from the
        # address and port the datagram was sent to.
        with Server("-p", "raw", "-u", "-H", "::", "-P", "0") as srv:
            port = srv.port("udp")
            self.assertEqual(srv.addrs(), [("::", port, "udp")])
            for host in ("127.0.0.1", "::1"):
                fam = nktest.family_of(host)
                with self.subTest(host=host), \
                        socket.socket(fam, socket.SOCK_DGRAM) as s:
                    s.settimeout(nktest.DEADLINE)
                    s.sendto(b"dual", (host, port))
                    reply, addr = s.recvfrom(100)
                    self.assertEqual(reply, PREFIX + b"dual")
                    self.assertEqual(addr[:2], (host, port))
            self.assertEqual(srv.stop(), 0)

    def test_udp_any_framed_drop_logs_plain_ipv4(self):
        # The drop log names an IPv4 sender of a dual-stack socket as IPv4.
        with Server("-p", "framed", "-u", "-H", "::", "-P", "0") as srv:
            port = srv.port("udp")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                s.sendto(b"\x09\x00\x00\x00short", ("127.0.0.1", port))
                srv.wait_for("Dropped a datagram of 9 bytes from 127.0.0.1:%d"
                             % s.getsockname()[1])
            self.assertNotIn("::ffff:", srv.stderr())
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
