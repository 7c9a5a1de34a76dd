"""allow / deny: access control per listener, for TCP and UDP, IPv4, IPv6
and v4-mapped peers.  Loopback holds all of 127.0.0.0/8, so clients bind
127.0.0.2 (allowed) or 127.0.0.3 (denied) to be told apart; IPv6 has only
::1, told apart from 127.0.0.1 on the same listener.  A denied TCP client
sees its connection closed before any byte; a denied datagram is dropped,
which the test learns from the log line (never by waiting)."""
import re
import socket
import unittest

import nktest
from nktest import Server, config_file, frame, have_ipv6, recv_frame

DENIED = re.compile(r"\[!\] Denied (\S+) on \[listen\.(\S+)\] \(deny (\S+), "
                    r"([^)]*)\)(; (\d+) more denied, not logged)?$")

RULES = "deny = 127.0.0.3\nallow = 127.0.0.0/8 ::1\ndeny = all\n"


def tcp_from(src, host, port):
    """A TCP connection from address src."""
    s = socket.socket(nktest.family_of(host), socket.SOCK_STREAM)
    s.settimeout(nktest.DEADLINE)
    s.bind((src, 0))
    s.connect((host, port))
    return s


def udp_from(src):
    s = socket.socket(nktest.family_of(src), socket.SOCK_DGRAM)
    s.settimeout(nktest.DEADLINE)
    s.bind((src, 0))
    return s


class AccessTest(unittest.TestCase):
    def assertAnswered(self, s):
        s.sendall(frame(b"hi"))
        self.assertEqual(recv_frame(s), b"echo : hi")

    def assertClosed(self, s):
        """The server closed the connection without a byte."""
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass

    def test_tcp_ipv4_first_match(self):
        cfg = "[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n" \
              + RULES
        with config_file(cfg) as path, Server("-c", path) as srv:
            port = srv.port()
            with tcp_from("127.0.0.2", "127.0.0.1", port) as ok:
                self.assertAnswered(ok)
            with tcp_from("127.0.0.3", "127.0.0.1", port) as bad:
                self.assertClosed(bad)
            m = srv.wait_for(DENIED)
            self.assertRegex(m.group(1), r"^127\.0\.0\.3:\d+$")
            self.assertEqual(m.group(2), "main")
            self.assertEqual(m.group(3), "127.0.0.3/32")
            self.assertEqual(m.group(4), path + ":5")
            # The allowed client is still served after a denial.
            with tcp_from("127.0.0.2", "127.0.0.1", port) as ok:
                self.assertAnswered(ok)
            self.assertEqual(srv.stop(), 0)
            self.assertIn("[listen.main] denied 1 connection", srv.stderr())
            # No plugin callback for the denied one: no connection line.
            self.assertNotIn("Connection from 127.0.0.3", srv.stderr())

    def test_udp_ipv4(self):
        cfg = "[listen.dns]\nproto = framed\ntransport = udp\n" \
              "host = 127.0.0.1\nport = 0\n" + RULES
        with config_file(cfg) as path, Server("-c", path) as srv:
            port = srv.port("udp")
            with udp_from("127.0.0.3") as bad, udp_from("127.0.0.2") as ok:
                bad.sendto(frame(b"no"), ("127.0.0.1", port))
                m = srv.wait_for(DENIED)
                self.assertEqual(m.group(2), "dns")
                ok.sendto(frame(b"hi"), ("127.0.0.1", port))
                self.assertEqual(ok.recv(100), frame(b"echo : hi"))
                # The denied socket got nothing: the only datagram waiting
                # now is the answer to the one sent after this check.
                bad.settimeout(0)
                with self.assertRaises(BlockingIOError):
                    bad.recv(100)
            self.assertEqual(srv.stop(), 0)
            self.assertIn("[listen.dns] denied 1 datagram", srv.stderr())

    @unittest.skipUnless(have_ipv6(), "no IPv6 on this machine")
    def test_ipv6_tcp_and_udp(self):
        # --deny ::1 on one listener of both families: ::1 is refused,
        # 127.0.0.1 answered; then the opposite with --allow ::1 --deny all.
        for args, denied, allowed in (
                (("--deny", "::1"), "::1", "127.0.0.1"),
                (("--allow", "::1", "--deny", "all"), "127.0.0.1", "::1")):
            with self.subTest(args=args), \
                    Server("-p", "framed", "-H", "127.0.0.1", "-H", "::1",
                           "-P", "0", *args) as srv:
                port = srv.port()
                with tcp_from(allowed, allowed, port) as ok:
                    self.assertAnswered(ok)
                with tcp_from(denied, denied, port) as bad:
                    self.assertClosed(bad)
                m = srv.wait_for(DENIED)
                self.assertIn(denied, m.group(1))
                self.assertEqual(m.group(4), "--deny")
                self.assertEqual(srv.stop(), 0)
            with self.subTest(args=args, transport="udp"), \
                    Server("-p", "framed", "-u", "-H", "127.0.0.1", "-H",
                           "::1", "-P", "0", *args) as srv:
                port = srv.port("udp")
                with udp_from(denied) as bad, udp_from(allowed) as ok:
                    bad.sendto(frame(b"no"), (denied, port))
                    m = srv.wait_for(DENIED)
                    self.assertIn(denied, m.group(1))
                    ok.sendto(frame(b"hi"), (allowed, port))
                    self.assertEqual(ok.recv(100), frame(b"echo : hi"))
                self.assertEqual(srv.stop(), 0)
                self.assertIn("denied 1 datagram", srv.stderr())

    @unittest.skipUnless(have_ipv6(), "no IPv6 on this machine")
    def test_v4_mapped_peer_matches_ipv4_rules(self):
        # An IPv6 socket bound to ::ffff:127.0.0.1 (a dual-stack socket,
        # on loopback only) sees its IPv4 client as ::ffff:127.0.0.3; the
        # IPv4 rule applies to it, over TCP and UDP.
        for udp in (False, True):
            args = ["-p", "framed", "-H", "::ffff:127.0.0.1", "-P", "0",
                    "--deny", "127.0.0.3"] + (["-u"] if udp else [])
            with self.subTest(udp=udp), Server(*args) as srv:
                port = srv.port("udp" if udp else "tcp")
                if udp:
                    with udp_from("127.0.0.3") as bad, \
                            udp_from("127.0.0.2") as ok:
                        bad.sendto(frame(b"no"), ("127.0.0.1", port))
                        m = srv.wait_for(DENIED)
                        ok.sendto(frame(b"hi"), ("127.0.0.1", port))
                        self.assertEqual(ok.recv(100), frame(b"echo : hi"))
                else:
                    with tcp_from("127.0.0.3", "127.0.0.1", port) as bad:
                        self.assertClosed(bad)
                    m = srv.wait_for(DENIED)
                    with tcp_from("127.0.0.2", "127.0.0.1", port) as ok:
                        self.assertAnswered(ok)
                self.assertRegex(m.group(1), r"^127\.0\.0\.3:\d+$")
                self.assertEqual(m.group(3), "127.0.0.3/32")
                self.assertEqual(srv.stop(), 0)

    def test_denials_logged_at_a_limited_rate(self):
        # Ten denials in well under a second: one line, and all ten counted
        # at exit.
        with Server("-p", "framed", "-H", "127.0.0.1", "-P", "0",
                    "--deny", "127.0.0.3") as srv:
            port = srv.port()
            for _ in range(10):
                with tcp_from("127.0.0.3", "127.0.0.1", port) as bad:
                    self.assertClosed(bad)
            with tcp_from("127.0.0.2", "127.0.0.1", port) as ok:
                self.assertAnswered(ok)
            self.assertEqual(srv.stop(), 0)
            err = srv.stderr()
            self.assertIn("[listen.cli] denied 10 connections", err)
            self.assertLessEqual(len(DENIED.findall(err)), 2, err)

    def test_bad_cli_range(self):
        r = nktest.run("serve", "-p", "framed", "--deny", "10.0.0.0/33")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(), "netkit: option --deny: prefix "
                         "/33 is longer than 32 bits\n")

    def test_cli_rules_come_first(self):
        # The file denies 127.0.0.0/8; --allow 127.0.0.2 is checked first.
        cfg = "[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n" \
              "deny = 127.0.0.0/8\n"
        with config_file(cfg) as path, \
                Server("-c", path, "--allow", "127.0.0.2") as srv:
            port = srv.port()
            with tcp_from("127.0.0.2", "127.0.0.1", port) as ok:
                self.assertAnswered(ok)
            with tcp_from("127.0.0.3", "127.0.0.1", port) as bad:
                self.assertClosed(bad)
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
