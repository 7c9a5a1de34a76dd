"""Limits of the machine: the metrics listener under peers that hold its
connections and when descriptors run out, and a descriptor limit too small
to serve.  A scrape must get through while slow peers hold connections,
and running out of descriptors must not make a listener spin."""
import os
import re
import shutil
import socket
import subprocess
import time
import unittest
import urllib.request

import nktest
from nktest import Server, config_file, frame, recv_frame

CURL = shutil.which("curl")
METRICS_RE = re.compile(r"\[\*\] Metrics on http://127\.0\.0\.1:(\d+)/metrics")

CONFIG = """[netkit]
metrics = 127.0.0.1:0

[listen.main]
proto = framed
host = 127.0.0.1
port = 0
"""


def scrape(port):
    """One scrape with Python's client: the body, or None."""
    url = "http://127.0.0.1:%d/metrics" % port
    try:
        with urllib.request.urlopen(url, timeout=nktest.DEADLINE) as r:
            return r.read().decode() if r.status == 200 else None
    except OSError:
        return None


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MetricsUnderSlowPeersTest(unittest.TestCase):
    def test_scrape_gets_through_40_slow_peers(self):
        # 40 connections that send nothing or half a request held the 32
        # client slots for their 10 s each: every scrape was closed
        # unanswered.  Now a newcomer closes the oldest that has not sent
        # its request.
        with config_file(CONFIG) as path, Server("-c", path) as srv:
            port = int(srv.wait_for(METRICS_RE).group(1))
            slow = []
            for i in range(40):
                s = socket.create_connection(("127.0.0.1", port))
                if i % 2:
                    s.sendall(b"GET /metr")  # a request begun, never ended
                slow.append(s)
            for _ in range(3):
                body = scrape(port)
                self.assertIsNotNone(body)
                self.assertIn("netkit_connections_accepted_total", body)
            if CURL:
                r = subprocess.run(
                    [CURL, "-sS", "--max-time", str(nktest.DEADLINE),
                     "http://127.0.0.1:%d/metrics" % port],
                    capture_output=True, timeout=nktest.DEADLINE + 5)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(b"netkit_connections_accepted_total", r.stdout)
            srv.wait_for("Metrics: 32 clients at once: closing the oldest")
            # The serving listener is not disturbed.
            with nktest.connect("127.0.0.1", srv.port()) as c:
                c.sendall(frame(b"x"))
                self.assertEqual(recv_frame(c), b"echo : x")
            for s in slow:
                s.close()
            self.assertEqual(srv.stop(), 0)


@unittest.skipIf(nktest.VALGRIND, "valgrind closes what accept returns past "
                 "its own lower limit: an EMFILE that consumes the client")
class MetricsOutOfDescriptorsTest(unittest.TestCase):
    def test_no_spin_and_served_once_descriptors_return(self):
        # With every descriptor taken by serving connections, the metrics
        # listener's accept said EMFILE on every wakeup: 99.7% CPU.  Now
        # it stops accepting for 100 ms at a time, and the scrape waiting
        # in its queue is answered once descriptors are free again.
        with config_file(CONFIG) as path, \
                Server("-c", path, "-w", "1", nofile=40) as srv:
            mport = int(srv.wait_for(METRICS_RE).group(1))
            held = []
            for _ in range(45):  # more than there are descriptors
                held.append(nktest.connect("127.0.0.1", srv.port()))
            srv.wait_for("Out of file descriptors")
            waiting = socket.create_connection(("127.0.0.1", mport))
            waiting.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            before, start = cpu_seconds(srv.proc.pid), time.monotonic()
            time.sleep(2)  # the window measured: the process left alone
            used = cpu_seconds(srv.proc.pid) - before
            wall = time.monotonic() - start
            print("\nout of descriptors: %.2f s of CPU in %.2f s" % (used,
                                                                  wall))
            self.assertLess(used, 0.3 * wall)
            srv.wait_for("Metrics: accept: Too many open files: not "
                         "accepting for 100 ms")
            for s in held:
                s.close()
            waiting.settimeout(nktest.DEADLINE)
            reply = b""
            while True:
                got = waiting.recv(65536)
                if not got:
                    break
                reply += got
            waiting.close()
            self.assertTrue(reply.startswith(b"HTTP/1.0 200 OK"),
                            (reply[:80], srv.stderr()[-3000:]))
            self.assertEqual(srv.stop(), 0)


@unittest.skipIf(nktest.VALGRIND, "valgrind takes descriptors of its own")
class DescriptorLimitTest(unittest.TestCase):
    ARGS = ("-p", "framed", "-P", "0", "-H", "127.0.0.1", "-w", "1")

    def test_too_few_to_serve_is_refused_and_says_what_is_needed(self):
        # ulimit -n 12 logged Ready and shed every connection, saying
        # nothing.  Now it refuses to start, naming the limit that would
        # serve; with that limit it serves, warning that max_conns needs
        # more, and names that; with that one it says nothing.
        with Server(*self.ARGS, nofile=12, wait_listen=False) as srv:
            self.assertEqual(srv.proc.wait(nktest.DEADLINE), 1)
            srv.reader.join(5)
            m = re.search(r"^netkit: the descriptor limit \(ulimit -n\) is "
                          r"12, and .* take \d+: none is left for a "
                          r"connection; raise it to at least (\d+) "
                          r"\((\d+) for max_conns\)$", srv.stderr(), re.M)
            self.assertIsNotNone(m, srv.stderr())
            self.assertNotIn("Ready", srv.stderr())
        least, full = int(m.group(1)), int(m.group(2))
        with Server(*self.ARGS, "--max-conns", "50", nofile=least) as srv:
            m = srv.wait_for(re.compile(
                r"\[!\] The descriptor limit \(ulimit -n\) is %d: 1 left "
                r"for connections, fewer than max_conns allows \(50\): "
                r"connections past them are shed\. Raise it to (\d+)"
                % least))
            with nktest.connect("127.0.0.1", srv.port()) as c:
                c.sendall(frame(b"one"))
                self.assertEqual(recv_frame(c), b"echo : one")
            self.assertEqual(srv.stop(), 0)
        enough = int(m.group(1))
        self.assertEqual(enough, least - 1 + 50)
        self.assertEqual(full, least - 1 + 16384)
        with Server(*self.ARGS, "--max-conns", "50", nofile=enough) as srv:
            held = [nktest.connect("127.0.0.1", srv.port())
                    for _ in range(50)]
            for c in held:  # every one of max_conns served at once
                c.sendall(frame(b"x"))
                self.assertEqual(recv_frame(c), b"echo : x")
            for c in held:
                c.close()
            self.assertEqual(srv.stop(), 0)
        self.assertNotIn("descriptor limit", srv.stderr())
        self.assertNotIn("Out of file descriptors", srv.stderr())

if __name__ == "__main__":
    nktest.main()
