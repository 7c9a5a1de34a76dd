"""A real HAProxy in front of two netkit instances, with send-proxy (v1)
and send-proxy-v2: netkit logs the real client's address (the client
binds 127.0.0.5), allow/deny act on it (127.0.0.6 is denied), and
roundrobin spreads the connections over both instances.  HAProxy runs in
the foreground (-db) from a generated config in a temporary directory,
and is waited for by polling its frontend port with ss (a probe
connection would reach a backend); everything is on 127.0.0.0/8."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import nktest
from nktest import Server, config_file, frame, recv_frame

HAPROXY = shutil.which("haproxy")
SS = shutil.which("ss")

NETKIT_CONF = """[listen.%s]
proto = framed
host = 127.0.0.1
port = 0
proxy_protocol = %s
proxy_trusted = 127.0.0.1
deny = 127.0.0.6
"""

HAPROXY_CONF = """global
    maxconn 200

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
    server a 127.0.0.1:%d %s
    server b 127.0.0.1:%d %s
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    out = subprocess.run([SS, "-Hltn", "sport = :%d" % port],
                         capture_output=True, timeout=nktest.DEADLINE).stdout
    return b"127.0.0.1:%d" % port in out


class HAProxy:
    """haproxy -f CFG -db, started once its frontend listens."""

    def __init__(self, directory, backends, send, conf=HAPROXY_CONF):
        for _ in range(5):
            self.port = free_port()
            cfg = os.path.join(directory, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(conf % (self.port, backends[0], send,
                                backends[1], send))
            self.log = open(os.path.join(directory, "haproxy.log"), "w+b")
            self.proc = subprocess.Popen([HAPROXY, "-f", cfg, "-db"],
                                         stdin=subprocess.DEVNULL,
                                         stdout=self.log, stderr=self.log)
            end = time.monotonic() + nktest.DEADLINE
            while self.proc.poll() is None and time.monotonic() < end:
                if listening(self.port):
                    return
                time.sleep(0.02)  # poll, bounded by the deadline
            self.stop()  # exited (the port was taken meanwhile) or stuck
        self.log.seek(0)
        raise AssertionError("haproxy did not start:\n%s"
                             % self.log.read().decode())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(nktest.DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def client(src, port, payload):
    """One connection from src through HAProxy; the reply, or None when
    the connection was closed unanswered.  Returns (reply, source port)."""
    with socket.socket() as s:
        s.settimeout(nktest.DEADLINE)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        me = s.getsockname()[1]
        s.sendall(frame(payload))
        try:
            return recv_frame(s), me
        except (AssertionError, ConnectionResetError):
            return None, me


@unittest.skipUnless(HAPROXY and SS, "haproxy or ss not installed")
class HAProxyTest(unittest.TestCase):
    def test_send_proxy_v1(self):
        self.behind_haproxy("v1", "send-proxy")

    def test_send_proxy_v2(self):
        self.behind_haproxy("v2", "send-proxy-v2")

    def behind_haproxy(self, version, send):
        with tempfile.TemporaryDirectory() as d, \
                config_file(NETKIT_CONF % ("a", version)) as ca, \
                config_file(NETKIT_CONF % ("b", version)) as cb, \
                Server("-c", ca) as a, Server("-c", cb) as b:
            ha = HAProxy(d, (a.port(), b.port()), send)
            try:
                ports = []
                for i in range(4):
                    reply, me = client("127.0.0.5", ha.port, b"m%d" % i)
                    self.assertEqual(reply, b"echo : m%d" % i)
                    ports.append(me)
                reply, denied = client("127.0.0.6", ha.port, b"no")
                self.assertIsNone(reply)
            finally:
                ha.stop()
            # Stopped, so every line each one logged has been read.
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)
            # Each instance logged the real client, its own port included,
            # and roundrobin gave each two of the four.
            seen = {}
            for srv, name in ((a, "a"), (b, "b")):
                for m in re.finditer(
                        r"Connection from 127\.0\.0\.5:(\d+) \[%s\] \(via "
                        r"127\.0\.0\.1:\d+, PROXY %s\)" % (name, version),
                        srv.stderr()):
                    seen[int(m.group(1))] = name
            self.assertEqual(sorted(seen), sorted(ports))
            self.assertEqual(sorted(seen.values()), ["a", "a", "b", "b"])
            # The denied client: denied by its own address, in one of them.
            logs = a.stderr() + b.stderr()
            self.assertRegex(logs, r"Denied 127\.0\.0\.6:%d on "
                                   r"\[listen\.[ab]\] \(deny 127\.0\.0\.6/32"
                             % denied)
            self.assertNotIn("Connection from 127.0.0.1", logs)
            self.assertNotIn("Connection from 127.0.0.6", logs)


    def test_health_checks(self):
        # HAProxy's check behind send-proxy connects, sends its PROXY
        # header alone (v2: LOCAL), and resets.  Each was counted as an
        # `error` close and logged in two info lines.  Now they are
        # counted as checks, logged at debug level only, and real
        # clients are still logged and served.
        conf = HAPROXY_CONF.replace("    timeout server 30s\n",
                                    "    timeout server 30s\n"
                                    "    timeout check 5s\n")
        for version, send in (("v1", "send-proxy"), ("v2", "send-proxy-v2")):
            with self.subTest(version=version), \
                    tempfile.TemporaryDirectory() as d, \
                    config_file(NETKIT_CONF % ("a", version)) as ca, \
                    config_file(NETKIT_CONF % ("b", version) +
                                "\n[netkit]\nlog_level = debug\n") as cb, \
                    Server("-c", ca) as a, Server("-c", cb) as b:
                ha = HAProxy(d, (a.port(), b.port()),
                             send + " check inter 100ms", conf)
                try:
                    # b logs at debug level: its checks can be waited for.
                    b.wait_count("(Connection reset by peer) [b]", 3)
                    for i in range(2):
                        reply, _ = client("127.0.0.5", ha.port, b"c%d" % i)
                        self.assertEqual(reply, b"echo : c%d" % i)
                finally:
                    ha.stop()
                self.assertEqual(a.stop(), 0)
                self.assertEqual(b.stop(), 0)
                for srv in (a, b):
                    err = srv.stderr()
                    m = re.search(r"\[listen\.[ab]\] accepted \d+, .*, "
                                  r"closed \d+ \(([^)]*)\)$", err, re.M)
                    self.assertIsNotNone(m, err)
                    causes = dict(p.split(" ") for p in m.group(1).split(", "))
                    self.assertNotIn("error", causes, err)
                    self.assertGreaterEqual(int(causes.get("check", 0)), 1,
                                            err)
                # At info level, only the real clients are logged.
                info = a.stderr()
                self.assertNotIn("Connection from 127.0.0.1", info)
                self.assertNotIn("reset by peer", info)
                self.assertNotIn("PROXY header", info)
                self.assertIn("Connection from 127.0.0.5", a.stderr() +
                              b.stderr())
                # At debug level, the checks are still there to be seen.
                self.assertRegex(b.stderr(), r"Connection from 127\.0\.0\.1:"
                                 r"\d+ \[b\] \(via 127\.0\.0\.1:\d+, PROXY %s"
                                 % version)

if __name__ == "__main__":
    nktest.main()
