"""The PROXY protocol on a listener (proxy_protocol = v1|v2|any,
proxy_trusted): the header is read before anything else, the address it
carries is what the logs, allow/deny and the plugin see, and a missing,
malformed or untrusted header is refused with one log line.  Headers come
from `netkit connect --proxy-protocol` and from hand-made bytes."""
import re
import socket
import struct
import unittest

import nktest
from nktest import Server, config_file, frame, recv_frame

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(src, dst, sport, dport, command=0x21, tlv=b""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport) + tlv
    return SIG + bytes([command, 0x11]) + struct.pack("!H", len(body)) + body


def config(mode, extra=""):
    return ("[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n"
            "proxy_protocol = %s\nmessage_timeout = 1\n%s" % (mode, extra))


def closed(s):
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


class ProxyTest(unittest.TestCase):
    def test_netkit_connect_both_versions(self):
        with config_file(config("any")) as path, Server("-c", path) as srv:
            for version in ("v1", "v2"):
                r = nktest.run("connect", "-p", "framed", "--proxy-protocol",
                               version, "-m", "hi", "127.0.0.1",
                               str(srv.port()))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, b"echo : hi\n")
                srv.wait_for(re.compile(
                    r"\[\*\] Connection from 127\.0\.0\.1:\d+ \[main\] \(via "
                    r"127\.0\.0\.1:\d+, PROXY %s\)$" % version))
            self.assertEqual(srv.stop(), 0)

    def test_real_address_logged_and_checked(self):
        # allow/deny act on the header's address, not the balancer's.
        extra = "deny = 10.9.9.9\nallow = 10.0.0.0/8\ndeny = all\n"
        with config_file(config("v1", extra)) as path, \
                Server("-c", path) as srv:
            with nktest.connect("127.0.0.1", srv.port()) as s:
                # The header and a message in one segment.
                s.sendall(b"PROXY TCP4 10.1.2.3 127.0.0.1 40000 9999\r\n" +
                          frame(b"hi"))
                self.assertEqual(recv_frame(s), b"echo : hi")
            srv.wait_for("Connection from 10.1.2.3:40000 [main] (via "
                         "127.0.0.1:")
            srv.wait_for("Connection closed 10.1.2.3:40000 [main] (in 48 B,")
            with nktest.connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"PROXY TCP4 10.9.9.9 127.0.0.1 40001 9999\r\n")
                self.assertTrue(closed(s))
            srv.wait_for("Denied 10.9.9.9:40001 on [listen.main] (deny "
                         "10.9.9.9/32")
            with nktest.connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"PROXY TCP4 192.0.2.1 127.0.0.1 40002 9999\r\n")
                self.assertTrue(closed(s))
            # (denials are logged at most once a second: counted only)
            self.assertEqual(srv.stop(), 0)
            err = srv.stderr()
            self.assertNotIn("Connection from 10.9.9.9", err)
            self.assertNotIn("Connection from 192.0.2.1", err)
            self.assertIn("[listen.main] denied 2 connections", err)

    def test_v2_tlvs_and_local(self):
        with config_file(config("v2")) as path, Server("-c", path) as srv:
            with nktest.connect("127.0.0.1", srv.port()) as s:
                s.sendall(v2("10.4.4.4", "127.0.0.1", 1234, 80,
                             tlv=b"\x04\x00\x03abc") + frame(b"tlv"))
                self.assertEqual(recv_frame(s), b"echo : tlv")
            srv.wait_for("Connection from 10.4.4.4:1234 [main] (via ")
            # LOCAL (a balancer's health check): its own address stays.
            with nktest.connect("127.0.0.1", srv.port()) as s:
                me = s.getsockname()[1]
                s.sendall(SIG + b"\x20\x00\x00\x00" + frame(b"local"))
                self.assertEqual(recv_frame(s), b"echo : local")
            srv.wait_for("Connection from 127.0.0.1:%d [main] (via "
                         "127.0.0.1:%d, PROXY v2 LOCAL)" % (me, me))
            self.assertEqual(srv.stop(), 0)

    def test_refusals(self):
        extra = "proxy_trusted = 127.0.0.1 ::1\n"
        with config_file(config("v1", extra)) as path, \
                Server("-c", path) as srv:
            port = srv.port()
            cases = [
                (frame(b"no header"), "bad PROXY header: "),
                (v2("10.1.1.1", "127.0.0.1", 1, 2), "bad PROXY header: "),
                (b"PROXY TCP4 300.1.1.1 127.0.0.1 1 2\r\n",
                 "bad PROXY header: "),
                (b"PROXY TCP4 10.1.1.1", "no PROXY header within "
                 "message_timeout"),
            ]
            for data, why in cases:
                with self.subTest(data=data):
                    start = len(srv.lines)
                    with nktest.connect("127.0.0.1", port) as s:
                        s.sendall(data)
                        self.assertTrue(closed(s))
                    srv.wait_for(re.compile(
                        r"\[!\] Refused 127\.0\.0\.1:\d+ on \[listen\.main\]: "
                        + re.escape(why)), start=start)
            # A balancer outside proxy_trusted: refused before any byte.
            with socket.socket() as s:
                s.bind(("127.0.0.2", 0))
                s.connect(("127.0.0.1", port))
                s.sendall(b"PROXY TCP4 10.1.1.1 127.0.0.1 1 2\r\n")
                self.assertTrue(closed(s))
            srv.wait_for(re.compile(r"\[!\] Refused 127\.0\.0\.2:\d+ on "
                                    r"\[listen\.main\]: not in proxy_trusted"))
            self.assertEqual(srv.stop(), 0)
            err = srv.stderr()
            self.assertNotIn("Connection from", err)
            self.assertIn("refused 5 (proxy 5)", err)

    def test_per_ip_limit_on_the_real_address(self):
        # Every connection comes from the balancer (127.0.0.1): the limit
        # counts the addresses in the headers.
        extra = "max_conns_per_ip = 1\n"
        with config_file(config("v1", extra)) as path, \
                Server("-c", path) as srv:
            def via(src):
                s = nktest.connect("127.0.0.1", srv.port())
                s.sendall(b"PROXY TCP4 %s 127.0.0.1 1000 9999\r\n"
                          % src.encode() + frame(b"x"))
                return s
            with via("10.1.1.1") as one:
                self.assertEqual(recv_frame(one), b"echo : x")
                with via("10.1.1.1") as two:
                    self.assertTrue(closed(two))
                with via("10.1.1.2") as other:
                    self.assertEqual(recv_frame(other), b"echo : x")
            srv.wait_for("Connection from 10.1.1.1:1000 refused: "
                         "max_conns_per_ip (1) reached")
            self.assertEqual(srv.stop(), 0)
            self.assertIn("refused 1 (per_ip 1)", srv.stderr())

    def test_udp_is_a_config_error(self):
        with config_file("[listen.main]\nport = 0\ntransport = udp\n"
                         "proxy_protocol = v2\n") as path:
            r = nktest.run("serve", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("proxy_protocol: applies to tcp listeners only",
                      r.stderr.decode())


if __name__ == "__main__":
    nktest.main()
