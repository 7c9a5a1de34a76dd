"""Hostile peers that cost more than themselves, each a case that once went
wrong (docs/faults.md lists them all): UDP reflection between two echoes,
datagrams from privileged or netkit's own source ports, one source over its
rate, oversize UDP replies, descriptor exhaustion with several workers,
stray signals, and a second SIGTERM during the drain.

While each hostile case runs, a well-behaved client keeps talking to the
server and must be answered correctly.  Forged datagrams are written with a
raw socket (IP_HDRINCL) on loopback, which needs root: those cases are
skipped otherwise."""
import os
import re
import signal
import socket
import struct
import threading
import time
import unittest

import nktest
from nktest import Server, connect, frame, recv_frame, recv_exact

PREFIX = b">Server echo : "
# The SIGUSR1 line of a UDP listener (test_counters.py has the format):
# "[listen.cli] datagrams 9 in, answered 5, dropped 4 (malformed 1, rate 3),
# messages ..., replies not sent 1 (oversize 1)"; a reason that is 0 is
# left out.
COUNTERS_RE = (r"\[listen\.%s\] datagrams \d+ in, answered (\d+), dropped "
               r"\d+(?: \(([^)]*)\))?, messages .*, replies not sent \d+"
               r"(?: \(([^)]*)\))?$")
COUNTER_NAMES = ("answered", "malformed", "low_port", "own_port", "rate",
                 "loop", "oversize")


def is_root():
    return os.geteuid() == 0


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def forge(src, dst, payload):
    """Send one UDP datagram over IPv4 loopback with any source address and
    port: src and dst are (address, port)."""
    udp_len = 8 + len(payload)
    udp = struct.pack("!HHHH", src[1], dst[1], udp_len, 0) + payload
    pseudo = (socket.inet_aton(src[0]) + socket.inet_aton(dst[0]) +
              struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len))
    csum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0x1234, 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src[0]),
                     socket.inet_aton(dst[0]))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    with socket.socket(socket.AF_INET, socket.SOCK_RAW,
                       socket.IPPROTO_RAW) as r:
        r.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        r.sendto(ip + udp, (dst[0], 0))


def udp_socket(host="127.0.0.1", port=0, timeout=nktest.DEADLINE):
    s = socket.socket(nktest.family_of(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((host, port))
    s.settimeout(timeout)
    return s


def counters(srv, listener="cli"):
    """Ask the server for its counters (SIGUSR1); return them as a dict."""
    start = len(srv.lines)
    srv.proc.send_signal(signal.SIGUSR1)
    m = srv.wait_for(re.compile(COUNTERS_RE % re.escape(listener)),
                     start=start)
    got = dict.fromkeys(COUNTER_NAMES, 0)
    got["answered"] = int(m.group(1))
    for part in ", ".join(filter(None, m.group(2, 3))).split(", "):
        if part:
            name, n = part.rsplit(" ", 1)
            if name in got:
                got[name] = int(n)
    return got


def settled(srv, listener="cli", quiet=0.5, limit=10.0):
    """Counters once they have stopped moving for `quiet` seconds (polled,
    at most `limit` seconds): how a test knows an exchange has ended."""
    end = time.monotonic() + limit
    last = counters(srv, listener)
    while time.monotonic() < end:
        time.sleep(quiet)  # the quiet period is what is measured
        now = counters(srv, listener)
        if now == last:
            return now
        last = now
    raise AssertionError("still exchanging after %.0f s: %r" % (limit, last))


class Chatter:
    """A well-behaved UDP client that keeps asking a server and checks every
    answer, on its own thread, until stopped."""

    def __init__(self, port, host="127.0.0.2", prefix=b"", wrap=None,
                 pace=0.02):
        self.port, self.host, self.prefix = port, host, prefix
        self.pace = pace
        self.wrap = wrap or (lambda b: b)
        self.wrong, self.answered = [], 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        with udp_socket(self.host) as s:
            for i in range(100000):  # bounded; stopped long before
                if self.stopping.is_set():
                    return
                msg = b"good %d" % i
                s.sendto(self.wrap(msg), ("127.0.0.1", self.port))
                try:
                    got = s.recv(1 << 17)
                except socket.timeout:
                    self.wrong.append((i, "no answer"))
                    return
                if got != self.wrap(self.prefix + msg):
                    self.wrong.append((i, got[:40]))
                self.answered += 1
                self.stopping.wait(self.pace)  # a polite client's pace

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(nktest.DEADLINE)


@unittest.skipUnless(is_root(), "forging datagrams needs a raw socket (root)")
class ReflectionTest(unittest.TestCase):
    def ping_pong(self, args, payload, bound, wrap=None):
        # Two echo servers; one datagram forged from A's port to B.  Each
        # answers the other until the loop guard mutes it: the exchange
        # must end, within `bound` datagrams each.
        with Server(*args) as a, Server(*args) as b:
            pa, pb = a.port("udp"), b.port("udp")
            with Chatter(pb, prefix=args_prefix(args), wrap=wrap) as good:
                forge(("127.0.0.1", pa), ("127.0.0.1", pb), payload)
                # A and B take turns: once A is quiet, the exchange is over.
                ca = settled(a)
            cb = counters(b)
            self.assertEqual(good.wrong, [])
            self.assertGreater(good.answered, 0)
            self.assertLessEqual(ca["answered"], bound, (ca, cb))
            self.assertLessEqual(cb["answered"] - good.answered, bound,
                                 (ca, cb))
            self.assertGreaterEqual(ca["loop"] + cb["loop"], 1, (ca, cb))
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)
        return ca, cb

    def test_two_plain_echoes(self):
        # The README's plain RFC 862 echo, twice: the ping-pong ends.
        ca, cb = self.ping_pong(("-p", "raw", "-u", "-P", "0", "-H",
                                 "127.0.0.1", "-O", "prefix="),
                                b"ping", 20)
        print("plain echoes: A answered %d, B %d" % (ca["answered"],
                                                     cb["answered"]),
              flush=True)

    def test_two_prefixed_echoes(self):
        # Each reply grows by the prefix: the loop guard sees the peer
        # send back what it got, with more in front.
        self.ping_pong(("-p", "raw", "-u", "-P", "0", "-H", "127.0.0.1"),
                       b"ping", 20)

    def test_two_framed_echoes(self):
        self.ping_pong(("-p", "framed", "-u", "-P", "0", "-H", "127.0.0.1",
                        "-O", "prefix="), frame(b"ping"), 20, wrap=frame)

    def test_own_port_is_not_answered(self):
        # One process, two UDP listeners: a datagram forged from one's port
        # to the other is never answered (it would loop inside netkit).
        conf = ("[listen.a]\nproto = raw\nhost = 127.0.0.1\nport = 0\n"
                "transport = udp\n\n"
                "[listen.b]\nproto = raw\nhost = 127.0.0.1\nport = 0\n"
                "transport = udp\n\n[plugin.raw]\nprefix = \"\"\n")
        with nktest.config_file(conf) as path, Server("-c", path) as srv:
            pa, pb = srv.port("udp", 0), srv.port("udp", 1)
            forge(("127.0.0.1", pa), ("127.0.0.1", pb), b"loop?")
            srv.wait_for("not answering 5 bytes from 127.0.0.1:%d: its "
                         "source port is one of this server's UDP ports"
                         % pa)
            with udp_socket() as s:  # and b still answers others
                s.sendto(b"hi", ("127.0.0.1", pb))
                self.assertEqual(s.recv(100), b"hi")
            ca, cb = counters(srv, "a"), counters(srv, "b")
            self.assertEqual((ca["answered"], cb["answered"]), (0, 1))
            self.assertEqual(cb["own_port"], 1)
            self.assertEqual(srv.stop(), 0)

    def test_forged_low_ports_are_not_answered(self):
        # Ports of echo (7), chargen (19), DNS (53), NTP (123): a reply
        # there could start a loop with that service.
        with Server("-p", "raw", "-u", "-P", "0", "-H", "127.0.0.1") as srv:
            port = srv.port("udp")
            with Chatter(port, prefix=PREFIX) as good:
                for low in (7, 19, 53, 123, 1023):
                    forge(("127.0.0.1", low), ("127.0.0.1", port), b"x")
                srv.wait_for("not answering 1 bytes from 127.0.0.1:7: its "
                             "source port is below 1024")
                end = time.monotonic() + nktest.DEADLINE
                while counters(srv)["low_port"] < 5 and \
                        time.monotonic() < end:
                    time.sleep(0.05)  # polling the counter, bounded
            c = counters(srv)  # the chatter has stopped: nothing in flight
            self.assertEqual(good.wrong, [])
            self.assertEqual(c["low_port"], 5)
            self.assertEqual(c["answered"], good.answered)
            self.assertEqual(srv.stop(), 0)


def args_prefix(args):
    """The reply prefix a server started with `args` puts before a payload
    (the Chatter's expectation)."""
    if "prefix=" in args:
        return b""
    return b"echo : " if "framed" in args else PREFIX


class LowPortTest(unittest.TestCase):
    def bind_low(self, host="127.0.0.1"):
        """A UDP socket on a free privileged port of host, or skip."""
        if not is_root():
            self.skipTest("binding a port below 1024 needs root")
        for port in (53, 123, 19, 7, 1000, 999):
            try:
                return udp_socket(host, port=port)
            except OSError:
                continue
        self.skipTest("no privileged port free")

    def test_low_port_not_answered_by_default(self):
        # Over IPv4 and IPv6, from a real socket on a privileged port.
        for host in nktest.HOSTS:
            with self.subTest(host=host), self.bind_low(host) as low, \
                    Server("-p", "raw", "-u", "-P", "0", "-H", host) as srv:
                port = srv.port("udp")
                peer = host if ":" not in host else "[%s]" % host
                low.sendto(b"query", (host, port))
                srv.wait_for("not answering 5 bytes from %s:%d: its source "
                             "port is below 1024 (udp_allow_low_ports = 1 "
                             "answers it)" % (peer, low.getsockname()[1]))
                low.settimeout(0.3)
                with self.assertRaises(socket.timeout):
                    low.recv(100)
                with udp_socket(host) as s:
                    s.sendto(b"fine", (host, port))
                    self.assertEqual(s.recv(100), PREFIX + b"fine")
                self.assertEqual(srv.stop(), 0)

    def test_udp_allow_low_ports(self):
        conf = ("[listen.dns]\nproto = raw\nhost = 127.0.0.1\nport = 0\n"
                "transport = udp\nudp_allow_low_ports = 1\n")
        with self.bind_low() as low, nktest.config_file(conf) as path, \
                Server("-c", path) as srv:
            low.sendto(b"query", ("127.0.0.1", srv.port("udp")))
            self.assertEqual(low.recv(100), PREFIX + b"query")
            self.assertEqual(srv.stop(), 0)


class UdpRateTest(unittest.TestCase):
    def test_one_source_over_its_rate(self):
        # --udp-rate 10: a burst of 8, then 10 a second.  A flood of 200
        # datagrams from 127.0.0.1 gets few answers; a client on
        # 127.0.0.2 keeps being answered throughout.
        with Server("-p", "raw", "-u", "-P", "0", "-H", "127.0.0.1",
                    "--udp-rate", "10") as srv:
            port = srv.port("udp")
            with Chatter(port, prefix=PREFIX, pace=0.2) as good, \
                    udp_socket() as s:
                began = time.monotonic()
                for i in range(200):
                    s.sendto(b"flood %d" % i, ("127.0.0.1", port))
                srv.wait_for("its address is over udp_rate (10/s)")
                replies = 0
                s.settimeout(0.3)
                try:
                    for _ in range(200):
                        s.recv(100)
                        replies += 1
                except socket.timeout:
                    pass
                elapsed = time.monotonic() - began
            self.assertEqual(good.wrong, [])
            self.assertGreater(good.answered, 0)
            self.assertGreaterEqual(replies, 8)
            self.assertLessEqual(replies, 8 + 10 * elapsed + 1)
            c = counters(srv)
            self.assertEqual(c["rate"], 200 - replies)
            # Logged at most once a second, however many were dropped.
            self.assertLessEqual(srv.stderr().count("is over udp_rate"),
                                 1 + int(time.monotonic() - began))
            self.assertEqual(srv.stop(), 0)


class UdpOptionsTest(unittest.TestCase):
    def test_udp_rate_needs_udp(self):
        r = nktest.run("serve", "-p", "raw", "-P", "0", "--udp-rate", "5")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, b"netkit: option --udp-rate applies to "
                                   b"UDP listeners only (add -u)\n")

    def test_udp_rate_range(self):
        r = nktest.run("serve", "-p", "raw", "-u", "--udp-rate", "-1")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, b"netkit: option --udp-rate: out of range "
                                   b"0..1000000\n")


class OversizeReplyTest(unittest.TestCase):
    def test_oversize_reply_is_logged(self):
        # The largest IPv4 datagram plus the prefix does not fit one
        # datagram: not sent, logged at the default level, counted.
        with Server("-p", "raw", "-u", "-P", "0", "-H", "127.0.0.1") as srv:
            port = srv.port("udp")
            with udp_socket() as s:
                me = s.getsockname()[1]
                s.sendto(b"z" * 65507, ("127.0.0.1", port))
                srv.wait_for("reply of %d bytes to 127.0.0.1:%d not sent: "
                             "over the UDP maximum of 65507"
                             % (65507 + len(PREFIX), me))
                s.sendto(b"small", ("127.0.0.1", port))
                self.assertEqual(s.recv(100), PREFIX + b"small")
            self.assertEqual(counters(srv)["oversize"], 1)
            self.assertEqual(srv.stop(), 0)


class DescriptorsTest(unittest.TestCase):
    def test_every_worker_sheds(self):
        # 64 descriptors, two workers, connections in bursts of 50 at once
        # (both workers out of descriptors together): every attempt is
        # served or closed by the server within a second, and the first
        # client is answered throughout.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-w", "2",
                    nofile=64) as srv:
            port = srv.port()
            good = connect("127.0.0.1", port)
            good.sendall(b"first")
            self.assertEqual(recv_exact(good, 20), PREFIX + b"first")
            held, shed, stuck = [], 0, 0
            for burst in range(30):
                socks = []

                def attempt(i):
                    s = connect("127.0.0.1", port)
                    s.sendall(b"x")
                    socks.append((s, time.monotonic()))

                nktest.concurrently(50, attempt)
                for s, began in socks:
                    s.settimeout(max(0.01, began + 1.0 - time.monotonic()))
                    try:
                        data = s.recv(100)
                    except ConnectionResetError:
                        data = b""  # shed with our byte unread: a reset
                    except socket.timeout:
                        data = None
                    if data is None:
                        stuck += 1
                        s.close()
                    elif data == b"":
                        shed += 1
                        s.close()
                    else:
                        self.assertEqual(data, PREFIX + b"x")
                        held.append(s)
                if stuck:
                    break  # failed already; no need to wait for more
                msg = b"good %d" % burst
                good.sendall(msg)
                self.assertEqual(recv_exact(good, len(PREFIX + msg)),
                                 PREFIX + msg)
            print("served %d, shed %d, stuck %d" % (len(held), shed, stuck),
                  flush=True)
            self.assertEqual(stuck, 0)
            self.assertGreater(shed, 0)
            for s in held:
                s.close()
            good.close()
            self.assertEqual(srv.stop(), 0)


class SignalsTest(unittest.TestCase):
    IGNORED = [signal.SIGUSR2, signal.SIGALRM, signal.SIGQUIT,
               signal.SIGVTALRM, signal.SIGPROF, signal.SIGIO,
               signal.SIGPWR, signal.SIGXCPU, signal.SIGRTMIN + 3,
               signal.SIGHUP]
    SILENT = [signal.SIGPIPE, signal.SIGXFSZ]  # ignored without a word

    def test_stray_signals_are_ignored(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                for sig in self.SILENT:
                    srv.proc.send_signal(sig)
                    s.sendall(frame(b"sig %d" % sig))
                    self.assertEqual(recv_frame(s), b"echo : sig %d" % sig)
                for sig in self.IGNORED:
                    start = len(srv.lines)
                    srv.proc.send_signal(sig)
                    srv.wait_for(re.compile(
                        r"Ignoring signal %d |Reloaded "  # SIGHUP reloads
                        % sig), start=start)
                    s.sendall(frame(b"sig %d" % sig))
                    self.assertEqual(recv_frame(s), b"echo : sig %d" % sig)
                self.assertIsNone(srv.proc.poll())
            self.assertEqual(srv.stop(), 0)

    def test_sigusr1_logs_counters(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"hi"))
                self.assertEqual(recv_frame(s), b"echo : hi")
                srv.proc.send_signal(signal.SIGUSR1)
                srv.wait_for("[listen.cli] accepted 1, active 1,")
                s.sendall(frame(b"still"))
                self.assertEqual(recv_frame(s), b"echo : still")
            self.assertEqual(srv.stop(), 0)

    def test_second_signal_exits_at_once(self):
        # A peer that never reads holds the drain for its full 10 s; a
        # second SIGTERM (or SIGINT) ends it at once, with status 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig), \
                    Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                           "-O", "prefix=", "-O", "exit_word=",
                           "-o", "SO_SNDBUF=4096") as srv:
                s = connect("127.0.0.1", srv.port())
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(0.05)
                try:  # fill both directions until the server pauses us
                    for _ in range(4096):
                        s.send(b"y" * 65536)
                except (socket.timeout, BlockingIOError):
                    pass
                srv.proc.send_signal(sig)
                srv.wait_for("Shutting down")
                began = time.monotonic()
                rc = srv.stop(sig)
                took = time.monotonic() - began
                s.close()
                self.assertEqual(rc, 0)
                self.assertLess(took, 1.0)
                self.assertIn("Closing every connection now", srv.stderr())


if __name__ == "__main__":
    nktest.main()
