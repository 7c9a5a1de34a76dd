"""Counters per listener: a known exchange over TCP and UDP, then the
SIGUSR1 lines and the lines at exit give its exact counts.  Clients bind
127.0.0.2 (allowed) and 127.0.0.3 (denied) to be told apart."""
import re
import shutil
import signal
import socket
import subprocess
import time
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
UDP_LINE = ("[listen.dns] datagrams 4 in, answered 2, dropped 2 (malformed "
            "1, denied 1), messages 2 in / 2 out, bytes 24 in / 26 out, "
            "decode errors 1, replies not sent 0")


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


METRICS_RE = re.compile(r"\[\*\] Metrics on http://127\.0\.0\.1:(\d+)/metrics")
CURL = shutil.which("curl")
PROMTOOL = shutil.which("promtool")

# The scrape after the known exchange: every sample, exactly.
EXPECTED = {
    'netkit_connections_accepted_total{listener="main"}': 3,
    'netkit_connections_refused_total{listener="main",reason="denied"}': 1,
    'netkit_connections_refused_total{listener="main",reason="max_conns"}': 0,
    'netkit_connections_active{listener="main"}': 0,
    'netkit_connections_closed_total{listener="main",cause="peer"}': 1,
    'netkit_connections_closed_total{listener="main",cause="too_big"}': 1,
    'netkit_connections_closed_total{listener="main",cause="error"}': 0,
    'netkit_timeouts_total{listener="main",kind="idle"}': 0,
    'netkit_messages_received_total{listener="main"}': 2,
    'netkit_messages_sent_total{listener="main"}': 2,
    'netkit_bytes_received_total{listener="main"}': 16,
    'netkit_bytes_sent_total{listener="main"}': 26,
    'netkit_decode_errors_total{listener="main"}': 0,
    'netkit_datagrams_received_total{listener="dns"}': 4,
    'netkit_datagrams_dropped_total{listener="dns",reason="malformed"}': 1,
    'netkit_datagrams_dropped_total{listener="dns",reason="denied"}': 1,
    'netkit_datagrams_dropped_total{listener="dns",reason="rate"}': 0,
    'netkit_datagrams_dropped_total{listener="dns",reason="unsent_reply"}':
        0,
    'netkit_messages_received_total{listener="dns"}': 2,
    'netkit_messages_sent_total{listener="dns"}': 2,
    'netkit_bytes_received_total{listener="dns"}': 24,
    'netkit_bytes_sent_total{listener="dns"}': 26,
    'netkit_decode_errors_total{listener="dns"}': 1,
}


def curl(url, *args):
    r = subprocess.run([CURL, "-sS", "--max-time", str(nktest.DEADLINE),
                        *args, url], capture_output=True,
                       timeout=nktest.DEADLINE + 5)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = int(value)
    return out


def usr1_until(srv, pattern):
    """SIGUSR1 until a counters line matches pattern; returns the match.
    The main thread reads the workers' counters while they run: a closed
    connection holds its slot ("active") until its socket is closed, a
    moment after its log line, and a reply is counted just after it is
    sent, so a client may see it a moment before the count."""
    end = time.monotonic() + nktest.DEADLINE
    while True:
        start = len(srv.lines)
        srv.proc.send_signal(signal.SIGUSR1)
        srv.wait_for("[listen.", start=start)
        for l in srv.lines[start:]:
            m = l is not None and pattern.search(l)
            if m:
                return m
        if time.monotonic() > end:
            raise AssertionError("no %r in:\n%s" % (pattern.pattern,
                                                     srv.stderr()))


def scrape_until(url, expected):
    """Scrape until every expected sample is there (see usr1_until), or
    the deadline; returns the last scrape."""
    end = time.monotonic() + nktest.DEADLINE
    while True:
        text = curl(url)
        got = samples(text)
        if all(got.get(k) == v for k, v in expected.items()) or \
                time.monotonic() > end:
            return text


class CountersTest(unittest.TestCase):
    def test_sigusr1_and_exit(self):
        with config_file(CONFIG) as path, Server("-c", path) as srv:
            exchange(srv)
            usr1_until(srv, re.compile(re.escape(TCP_LINE) + "$"))
            usr1_until(srv, re.compile(re.escape(UDP_LINE) + "$"))
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

    @unittest.skipUnless(CURL and PROMTOOL, "curl or promtool missing")
    def test_metrics_scrape(self):
        cfg = "[netkit]\nmetrics = 127.0.0.1:0\n\n" + CONFIG
        with config_file(cfg) as path, Server("-c", path) as srv:
            url = "http://127.0.0.1:%s/metrics" % srv.wait_for(
                METRICS_RE).group(1)
            exchange(srv)
            text = scrape_until(url, EXPECTED)
            got = samples(text)
            for name, value in EXPECTED.items():
                self.assertEqual(got.get(name), value, name)
            self.assertIn("# TYPE netkit_connections_accepted_total counter",
                          text)
            self.assertIn("# TYPE netkit_connections_active gauge", text)
            check = subprocess.run([PROMTOOL, "check", "metrics"],
                                   input=text.encode(), capture_output=True,
                                   timeout=nktest.DEADLINE)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            self.assertEqual(check.stdout + check.stderr, b"")
            # The headers: HTTP/1.0, Prometheus's content type, closed.
            head = curl(url, "-i")
            self.assertTrue(head.startswith("HTTP/1.0 200 OK\r\n"), head)
            self.assertIn("Content-Type: text/plain; version=0.0.4", head)
            self.assertRegex(curl(url.replace("/metrics", "/"), "-i"),
                             r"^HTTP/1.0 404 ")
            self.assertRegex(curl(url, "-i", "-X", "POST"), r"^HTTP/1.0 405 ")
            # A request head over 4 KiB is refused; a client that sends
            # half a request does not hold up the next scrape.
            self.assertRegex(curl(url, "-i", "-H", "X-Big: " + "a" * 5000),
                             r"^HTTP/1.0 431 ")
            port = int(url.split(":")[2].split("/")[0])
            with socket.create_connection(("127.0.0.1", port)) as slow:
                slow.sendall(b"GET /metr")
                self.assertEqual(samples(curl(url))[
                    'netkit_connections_accepted_total{listener="main"}'], 3)
            self.assertEqual(srv.stop(), 0)

    def test_metrics_config_errors(self):
        for value, why in (("9100", "expected HOST:PORT (an IPv6 address in "
                                   "brackets: [::1]:9100)"),
                           ("127.0.0.1:99999", "port: expected 0..65535"),
                           ("[::1]9100", "expected [ADDRESS]:PORT")):
            with self.subTest(value=value), \
                    config_file("[netkit]\nmetrics = %s\n" % value) as path:
                r = nktest.run("serve", "-c", path)
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stderr.decode().splitlines(),
                                 ["netkit: %s:2: [netkit] metrics: %s"
                                  % (path, why)])
        r = nktest.run("serve", "--metrics", "9100")
        self.assertEqual(r.returncode, 2)
        self.assertIn("netkit: option --metrics: expected HOST:PORT",
                      r.stderr.decode())

    def test_several_workers_summed(self):
        with Server("-p", "framed", "-H", "127.0.0.1", "-P", "0",
                    "-w", "4") as srv:
            for i in range(8):
                with nktest.connect("127.0.0.1", srv.port()) as s:
                    s.sendall(frame(b"%d" % i))
                    self.assertEqual(recv_frame(s), b"echo : %d" % i)
            srv.wait_count("Connection closed", 8)
            m = usr1_until(srv, re.compile(
                r"\[listen\.cli\] accepted (\d+), active 0, refused 0, "
                r"messages (\d+) in / (\d+) out"))
            self.assertEqual(m.groups(), ("8", "8", "8"))
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
