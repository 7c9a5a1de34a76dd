"""The pubsub example (examples/pubsub), built out of tree against a
temporarily installed netkit (oot.Prefix) and served with one and several
workers.

What is checked: a PUB reaches every subscriber of its topic on every
worker, in the order published, and no one else; with -w 4 the subscribers
are spread over several workers (each worker's stats line counts its own);
closing subscribers mid-stream leaves the others whole; a subscriber that
never reads costs only itself (its messages are dropped and counted, and
DROPPED tells it how many once it drains; past the listener's max_output
the host closes it); the session timer closes a
silent session after idle_ms and not before; the instance timer logs every
worker's counters; bad input is answered with -ERR; handles reach sessions
of other workers (ID, TELL).

Every wait is for data or a log line, with a deadline; loopback only.
"""
import os
import re
import select
import shutil
import socket
import threading
import time
import unittest

import nktest
import oot
from nktest import DEADLINE, Server
from oot import exported_functions

EXAMPLE = "pubsub"
STATS_RE = re.compile(r"pubsub: worker (\d+): (\d+) clients, (\d+) published, "
                      r"(\d+) delivered, (\d+) dropped")


class Client:
    """A line client of the pubsub protocol."""

    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, so the window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, *lines):
        self.sock.sendall(b"".join(l + b"\n" for l in lines))

    def line(self):
        """The next line without its newline; None once the peer closed."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def lines(self, n):
        out = [self.line() for _ in range(n)]
        if None in out:
            raise AssertionError("closed after %d of %d lines: %r"
                                 % (out.index(None), n, out))
        return out

    def cmd(self, line):
        self.send(line)
        return self.line()

    def closed(self):
        """True when the peer has closed (after any lines left)."""
        try:
            return self.line() is None
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class PubsubTest(oot.ExampleTest):
    EXAMPLE = EXAMPLE

    def serve(self, workers, *args):
        return Server("-L", self.dir, "-p", EXAMPLE, "-P", "0", "-H",
                      "127.0.0.1", "-w", str(workers), *args)

    def test_netkit_check_passes(self):
        # The conformance run passes on the example, as on the shipped
        # plugins.
        r = nktest.run("check", "-L", self.dir, EXAMPLE)
        self.assertEqual(r.returncode, 0, r.stdout.decode() +
                         r.stderr.decode())
        self.assertRegex(r.stdout.decode().splitlines()[-1],
                         r"^pubsub: \d+ passed, 0 failed, \d+ skipped$")

    def clients(self, srv, n, **kw):
        cs = [Client(srv.port(), **kw) for _ in range(n)]
        self.addCleanup(lambda: [c.close() for c in cs])
        return cs

    def subscribe(self, clients, *topics):
        for c in clients:
            c.send(*(b"SUB " + t for t in topics))
        for c in clients:
            self.assertEqual(c.lines(len(topics)), [b"+OK"] * len(topics))

    def publish(self, pub, topic, msgs):
        pub.send(*(b"PUB %s %s" % (topic, m) for m in msgs))
        self.assertEqual(pub.lines(len(msgs)), [b"+OK"] * len(msgs))

    def stats(self, srv, workers, start, want=None):
        """Each worker's counters from a stats line logged after line
        `start`, the first set for which want(counters) holds."""
        end = time.monotonic() + DEADLINE
        while True:
            last = {}
            with srv.cond:
                for l in srv.lines[start:]:
                    m = l is not None and STATS_RE.search(l)
                    if m:
                        last[int(m.group(1))] = [int(g) for g in m.groups()[1:]]
            if len(last) == workers and (want is None or want(last)):
                return last
            self.assertLess(time.monotonic(), end,
                            "no such stats: %r\n%s" % (last, srv.stderr()))
            # The next stats line, whichever worker logs it.
            srv.wait_for(STATS_RE, start=len(srv.lines))

    def fan_out(self, workers, nsubs, nmsgs=50):
        with self.serve(workers, "-O", "stats_ms=50") as srv:
            subs = self.clients(srv, nsubs)
            both, only_a = subs[::2], subs[1::2]
            self.subscribe(both, b"a", b"b")
            self.subscribe(only_a, b"a")
            pub = self.clients(srv, 1)[0]
            msgs = [b"m%d %s" % (i, b"x" * (i % 7)) for i in range(nmsgs)]
            # Interleave the topics: per publisher, order holds across them.
            pub.send(*(b"PUB %s %s" % (b"ab"[i % 2:i % 2 + 1], m)
                       for i, m in enumerate(msgs)))
            self.assertEqual(pub.lines(nmsgs), [b"+OK"] * nmsgs)
            want_both = [b"MSG %s %s" % (b"ab"[i % 2:i % 2 + 1], m)
                         for i, m in enumerate(msgs)]
            want_a = [w for w in want_both if w.startswith(b"MSG a ")]
            for c in both:
                self.assertEqual(c.lines(nmsgs), want_both)
            for c in only_a:
                self.assertEqual(c.lines(len(want_a)), want_a)
            # The publisher subscribed to nothing and got nothing else.
            self.assertEqual(pub.cmd(b"PING"), b"+PONG")
            # Each worker counts its own sessions only.
            last = self.stats(srv, workers, 0,
                              lambda s: sum(v[0] for v in s.values()) ==
                              nsubs + 1 and sum(v[2] for v in s.values()) ==
                              len(both) * nmsgs + len(only_a) * len(want_a))
            self.assertEqual(sum(v[1] for v in last.values()), nmsgs)
            self.assertEqual(sum(v[3] for v in last.values()), 0)
            for c in subs + [pub]:
                c.close()
            self.assertEqual(srv.stop(), 0, srv.stderr())
            return last

    def test_fan_out_one_worker(self):
        self.fan_out(1, 5)

    def test_fan_out_two_workers(self):
        self.fan_out(2, 10)

    def test_fan_out_four_workers(self):
        # 20 clients over 4 SO_REUSEPORT sockets: every worker that has
        # subscribers delivers to them.  That all 21 land on one worker has
        # a probability of 4^-20.
        last = self.fan_out(4, 20)
        busy = [w for w, v in last.items() if v[0] > 0]
        self.assertGreaterEqual(len(busy), 2, last)

    def test_publishers_on_several_workers(self):
        # Each subscriber sees every message, each publisher's in its order.
        with self.serve(4) as srv:
            subs = self.clients(srv, 12)
            self.subscribe(subs, b"t")
            pubs = self.clients(srv, 3)
            for i, p in enumerate(pubs):
                p.send(*(b"PUB t p%d-%d" % (i, j) for j in range(40)))
            for p in pubs:
                self.assertEqual(p.lines(40), [b"+OK"] * 40)
            for c in subs:
                got = c.lines(120)
                for i in range(3):
                    self.assertEqual([l for l in got
                                      if l.startswith(b"MSG t p%d-" % i)],
                                     [b"MSG t p%d-%d" % (i, j)
                                      for j in range(40)])
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_closing_subscribers_mid_stream(self):
        # Half the subscribers go away while messages flow, some with a
        # reset; the others get every message, and the server keeps count.
        with self.serve(2, "-O", "stats_ms=50") as srv:
            subs = self.clients(srv, 10)
            self.subscribe(subs, b"t")
            pub = self.clients(srv, 1)[0]
            self.publish(pub, b"t", [b"%d" % i for i in range(10)])
            for i, c in enumerate(subs[:5]):
                if i % 2:
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      b"\1\0\0\0\0\0\0\0")  # RST on close
                c.close()
            self.publish(pub, b"t", [b"%d" % i for i in range(10, 200)])
            for c in subs[5:]:
                self.assertEqual(c.lines(200),
                                 [b"MSG t %d" % i for i in range(200)])
            # on_close ran for each: 5 subscribers and the publisher left.
            self.stats(srv, 2, 0,
                       lambda s: sum(v[0] for v in s.values()) == 6)
            late = self.clients(srv, 1)[0]
            self.subscribe([late], b"t")
            self.publish(pub, b"t", [b"last"])
            for c in subs[5:] + [late]:
                self.assertEqual(c.line(), b"MSG t last")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_slow_subscriber_costs_only_itself(self):
        # One subscriber never reads while 2000 messages go out: the others
        # get all of them in order; its own are dropped past max_queued,
        # and once it reads, DROPPED says how many it missed.  A fixed
        # SO_SNDBUF bounds what the kernel holds for it; the others read
        # each batch of 100 before the next is published.
        n, batch, text = 2000, 100, b"y" * 100
        with self.serve(2, "-O", "max_queued=64k", "-O", "stats_ms=50",
                        "-o", "SO_SNDBUF=32768") as srv:
            slow = self.clients(srv, 1, rcvbuf=4096)[0]
            fast = self.clients(srv, 4)
            self.subscribe([slow] + fast, b"t")
            pub = self.clients(srv, 1)[0]
            for i in range(0, n, batch):
                self.publish(pub, b"t", [b"%d %s" % (j, text)
                                         for j in range(i, i + batch)])
                for c in fast:
                    self.assertEqual(c.lines(batch),
                                     [b"MSG t %d %s" % (j, text)
                                      for j in range(i, i + batch)])
            # Now the slow one reads: a subsequence of the messages, in
            # order, and notices that account for every one missing.
            seen, dropped = [], 0
            while len(seen) + dropped < n:
                line = slow.line()
                self.assertIsNotNone(line)
                if line.startswith(b"DROPPED "):
                    dropped += int(line.split()[1])
                else:
                    seen.append(int(line.split()[2]))
            self.assertEqual(len(seen) + dropped, n)
            self.assertGreater(dropped, 0)
            self.assertEqual(seen, sorted(seen))
            self.assertEqual(slow.cmd(b"PING"), b"+PONG")
            self.stats(srv, 2, 0,
                       lambda s: sum(v[3] for v in s.values()) == dropped)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def burst(self, stalled):
        # One client publishes an 8 MB burst as fast as it can, under -w 2;
        # four subscribers that read as fast as they can get every line,
        # in order: a subscriber falling behind holds the publisher back
        # (pause_read of the publisher, from whichever worker) instead of
        # losing lines, and lets it go once it has caught up.  With
        # `stalled`, a fifth never reads: it holds the publisher for
        # slow_ms, then its own lines are dropped, and only its.
        line_len, total = 1000, 8 << 20
        n = total // line_len
        pad = b"z" * (line_len - len(b"PUB t 000000 \n"))
        msgs = [b"%06d %s" % (i, pad) for i in range(n)]
        # slow_ms: how long a reader may stay behind and still count as
        # healthy -- generous, as the readers share the machine's cores.
        slow_ms = 10000 if nktest.VALGRIND else 3000
        with self.serve(2, "-O", "stats_ms=50", "-O", "slow_ms=%d" % slow_ms,
                        "-o", "SO_SNDBUF=32768") as srv:
            subs = self.clients(srv, 4)
            self.subscribe(subs, b"t")
            if stalled:
                slow = self.clients(srv, 1, rcvbuf=4096)[0]
                self.subscribe([slow], b"t")
            pub = self.clients(srv, 1)[0]
            got = {}

            def reader(i):
                # Whole reads split at once: a reader as fast as Python's.
                sock, buf, k = subs[i].sock, subs[i].buf, 0
                while k < n:
                    d = sock.recv(1 << 20)
                    if not d:
                        return "closed after %d lines" % k
                    *lines, buf = (buf + d).split(b"\n")
                    for line in lines:
                        if k >= n or line != b"MSG t " + msgs[k]:
                            return "line %d: %r" % (k, line[:40])
                        k += 1
                return k

            def publish():
                pub.sock.sendall(b"".join(b"PUB t %s\n" % m for m in msgs))
                return "sent"

            threads = [threading.Thread(
                target=lambda i=i: got.__setitem__(i, reader(i)))
                for i in range(4)]
            sender = threading.Thread(
                target=lambda: got.__setitem__("pub", publish()))
            for t in threads + [sender]:
                t.start()
            oks = pub.lines(n)
            for t in threads + [sender]:
                t.join(DEADLINE * 3)
                self.assertFalse(t.is_alive())
            self.assertEqual(set(oks), {b"+OK"})
            self.assertEqual(got, {0: n, 1: n, 2: n, 3: n, "pub": "sent"})
            if not stalled:
                last = self.stats(srv, 2, 0,
                                  lambda s: sum(v[2] for v in s.values()) ==
                                  4 * n)
                self.assertEqual(sum(v[3] for v in last.values()), 0)
            else:
                # The stalled one: a subsequence, and DROPPED for the rest.
                seen, dropped = 0, 0
                while seen + dropped < n:
                    line = slow.line()
                    self.assertIsNotNone(line)
                    if line.startswith(b"DROPPED "):
                        dropped += int(line.split()[1])
                    else:
                        seen += 1
                self.assertGreater(dropped, 0)
                self.assertEqual(slow.cmd(b"PING"), b"+PONG")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_burst_reaches_every_healthy_reader(self):
        self.burst(False)

    def test_burst_with_a_stalled_reader(self):
        self.burst(True)

    def test_max_output_closes_what_max_queued_lets_through(self):
        # With max_queued above the listener's --max-output, the host's
        # limit acts instead: it closes the subscriber that never reads, and
        # the others go on.
        with self.serve(2, "-O", "max_queued=16M", "--max-output", "65536",
                        "-o", "SO_SNDBUF=32768") as srv:
            slow = self.clients(srv, 1, rcvbuf=4096)[0]
            fast = self.clients(srv, 2)
            self.subscribe([slow] + fast, b"t")
            pub = self.clients(srv, 1)[0]
            for i in range(0, 2000, 100):
                self.publish(pub, b"t", [b"%d %s" % (j, b"y" * 100)
                                         for j in range(i, i + 100)])
                for c in fast:
                    self.assertEqual(c.lines(100)[-1],
                                     b"MSG t %d %s" % (i + 99, b"y" * 100))
            srv.wait_for("(output queue over its limit)")
            n = 0
            while not slow.closed():
                n += 1
            self.assertLess(n, 2000)
            self.assertEqual(pub.cmd(b"PING"), b"+PONG")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_idle_session_closed_by_its_timer(self):
        # A silent session is told -ERR idle and closed after idle_ms; one
        # that keeps talking stays.
        idle = 0.3
        with self.serve(2, "-O", "idle_ms=%d" % (idle * 1000)) as srv:
            t0 = time.monotonic()
            silent = self.clients(srv, 1)[0]
            talker = self.clients(srv, 1)[0]
            end = t0 + DEADLINE
            while not select.select([silent.sock], [], [], 0.05)[0]:
                self.assertEqual(talker.cmd(b"PING"), b"+PONG")
                self.assertLess(time.monotonic(), end)
            self.assertEqual(silent.line(), b"-ERR idle")
            elapsed = time.monotonic() - t0
            self.assertTrue(silent.closed())
            self.assertGreaterEqual(elapsed, idle - 0.02)
            self.assertEqual(talker.cmd(b"PING"), b"+PONG")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_stats_timer_on_every_worker(self):
        # The instance timer fires on each worker, again and again.
        with self.serve(3, "-O", "stats_ms=20") as srv:
            end = time.monotonic() + DEADLINE
            while True:
                with srv.cond:
                    ws = [int(m.group(1)) for m in
                          (STATS_RE.search(l) for l in srv.lines if l)
                          if m]
                if all(ws.count(w) >= 3 for w in range(3)):
                    break
                self.assertLess(time.monotonic(), end, srv.stderr())
                srv.wait_for(STATS_RE, start=len(srv.lines))
            self.assertEqual(sorted(set(ws)), [0, 1, 2])
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_errors_answered(self):
        with self.serve(1, "-O", "max_line=32") as srv:
            c = self.clients(srv, 1)[0]
            self.assertEqual(c.cmd(b"HELLO"), b"-ERR unknown command")
            self.assertEqual(c.cmd(b"SUB"), b"-ERR a topic is 1 to 64 bytes")
            self.assertEqual(c.cmd(b"UNSUB t"), b"-ERR not subscribed")
            self.assertEqual(c.cmd(b"PING\r"), b"+PONG")  # CRLF is fine
            self.assertEqual(c.cmd(b"SUB " + b"t" * 26), b"+OK")  # 31 + \n
            # A line over max_line: answered, then closed.
            c.send(b"x" * 40)
            self.assertEqual(c.line(), b"-ERR line too long")
            self.assertTrue(c.closed())
            c = self.clients(srv, 1)[0]
            c.send(b"PUB t a\0b")
            self.assertEqual(c.line(), b"-ERR NUL byte in line")
            self.assertTrue(c.closed())
            srv.wait_for("Bad input")
            c = self.clients(srv, 1)[0]
            self.assertEqual(c.cmd(b"QUIT"), b"+OK bye")
            self.assertTrue(c.closed())
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_tell_by_handle_across_workers(self):
        # TELL reaches a session of any worker by its handle; a stale
        # handle on the same worker is refused.
        with self.serve(4) as srv:
            cs = self.clients(srv, 8)
            ids = []
            for c in cs:
                line = c.cmd(b"ID")
                self.assertRegex(line, rb"^\+OK [1-9][0-9]*$")
                ids.append(line[4:])
            self.assertEqual(len(set(ids)), 8)
            for i, c in enumerate(cs):
                c.send(b"TELL %s hi %d" % (ids[(i + 1) % 8], i))
            for i, c in enumerate(cs):
                self.assertEqual(sorted(c.lines(2)),
                                 [b"+OK", b"FROM %s hi %d"
                                  % (ids[i - 1], (i - 1) % 8)])
            self.assertEqual(srv.stop(), 0, srv.stderr())
        with self.serve(1) as srv:
            a, b = self.clients(srv, 2)
            sid = a.cmd(b"ID")[4:]
            a.close()
            srv.wait_for("Connection closed")
            self.assertEqual(b.cmd(b"TELL %s x" % sid),
                             b"-ERR no such session")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_connect_uses_the_codec(self):
        # netkit connect creates the instance with role connect: no timers
        # even with stats_ms set, and the lines framed by the same encode.
        with self.serve(2) as srv:
            r = nktest.run("connect", "-L", self.dir, "-p", EXAMPLE,
                           "-O", "stats_ms=10", "-m", "PING", "-n", "2",
                           "127.0.0.1", str(srv.port()))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"+PONG\n+PONG\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_makefile_build_with_each_compiler(self):
        # The plain Makefile, -Wall -Wextra -pedantic -Werror, with gcc and
        # clang where installed; only the entry symbol exported.
        compilers = [cc for cc in ("gcc", "clang") if shutil.which(cc)]
        self.assertTrue(compilers)
        for cc in compilers:
            build = self.oot.make_build(
                EXAMPLE, cc=cc,
                cflags="-O2 -Wall -Wextra -pedantic -Werror")
            so = os.path.join(build, "pubsub.so")
            self.assertEqual(exported_functions(so), ["nk_plugin_entry"])
        r = nktest.run("plugins", "-L", self.dir, EXAMPLE)
        self.assertEqual(r.returncode, 0, r.stderr)
        for opt in (b"max_line", b"max_queued", b"idle_ms", b"stats_ms"):
            self.assertIn(b"\n" + opt + b" ", r.stdout)


if __name__ == "__main__":
    nktest.main()
