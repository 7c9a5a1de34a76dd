"""Plugin API 1.1 against the real binary: sessions that outlive a callback
and cross workers (a broadcast with peers resetting and never reading),
timers, the host's checks of everything a plugin returns, answering bad
input, an outbound connection (a proxy), the output limit, and a plugin
built from the frozen 1.0 headers."""
import ctypes
import os
import socket
import struct
import threading
import unittest

import nktest
from nktest import Server, connect, frame, recv_exact, recv_frame

FIXTURES = os.path.join(os.environ.get("NK_BUILDDIR") or
                        os.path.join(nktest.SRCDIR, "build"),
                        "tests", "fixtures", "plugins")
ABI10 = os.path.join(FIXTURES, "abi10")


def serve(*args, **kw):
    return Server("-L", FIXTURES, "-P", "0", "-H", "127.0.0.1", *args, **kw)


def reset(sock):
    """Close with an RST, as a crashing peer would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


def assert_closed(test, sock):
    """The server closed sock without sending another byte."""
    try:
        test.assertEqual(sock.recv(1000), b"")
    except ConnectionResetError:
        pass


class BroadcastTest(unittest.TestCase):
    def test_fifty_clients_four_workers(self):
        # 50 clients on -w 4; one publishes 200 lines while 10 others reset
        # mid-broadcast and 5 never read.  Every live client gets every
        # line in order, on every worker, and the server stays up.
        n, lines = 50, 200
        with serve("-p", "bcast", "-w", "4") as srv:
            port = srv.port()
            socks = [connect("127.0.0.1", port) for _ in range(n)]
            # on_open has run for all 50 once each has its log line.
            srv.wait_count("Connection from", n)
            resetters, deaf = socks[1:11], socks[11:16]
            live = [socks[0]] + socks[16:]
            results = {}

            def reader(i, s):
                got = []
                try:
                    for _ in range(lines):
                        got.append(recv_frame(s))
                except Exception as e:  # reported below
                    got.append(e)
                results[i] = got

            threads = [threading.Thread(target=reader, args=(i, s))
                       for i, s in enumerate(live)]
            for t in threads:
                t.start()
            pub = socks[0]
            for k in range(lines):
                pub.sendall(frame(b"line %03d " % k + b"x" * 500))
                if k == lines // 2:
                    for s in resetters:
                        reset(s)
            for t in threads:
                t.join(nktest.DEADLINE)
            want = [b"line %03d " % k + b"x" * 500 for k in range(lines)]
            for i in range(len(live)):
                self.assertEqual(results.get(i), want, "client %d" % i)
            # Still serving: a newcomer joins and hears the next line.
            with connect("127.0.0.1", port) as late:
                srv.wait_count("Connection from", n + 1)
                pub.sendall(frame(b"after"))
                self.assertEqual(recv_frame(late), b"after")
            for s in live + deaf:
                s.close()
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_never_reader_closed_at_max_output(self):
        # A peer that never reads, sent to from elsewhere, is closed at
        # --max-output; the publisher and the other readers go on.
        with serve("-p", "bcast", "--max-output", "64k",
                   "-o", "SO_SNDBUF=4096") as srv:
            port = srv.port()
            deaf = connect("127.0.0.1", port)
            deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            pub = connect("127.0.0.1", port)
            srv.wait_count("Connection from", 2)
            for k in range(400):
                pub.sendall(frame(b"%04d" % k + b"y" * 1000))
                self.assertEqual(recv_frame(pub), b"%04d" % k + b"y" * 1000)
            srv.wait_for("(output queue over its limit)")
            deaf.close()
            pub.close()
            self.assertEqual(srv.stop(), 0)


class HandleTest(unittest.TestCase):
    def test_send_and_close_by_handle_across_workers(self):
        # Eight clients on four workers: each learns its handle; client 0
        # reaches every other one by handle (most are on other workers),
        # then closes one; a handle of a closed session is stale.
        with serve("-p", "bcast", "-w", "4") as srv:
            port = srv.port()
            socks = [connect("127.0.0.1", port) for _ in range(8)]
            srv.wait_count("Connection from", 8)
            sids = []
            for s in socks:
                s.sendall(frame(b"/id"))
                sids.append(recv_frame(s).decode())
            worker = [int(sid, 16) >> 56 for sid in sids]  # the top byte
            self.assertGreater(len(set(worker)), 1,
                               "all on one worker: %s" % sids)
            me = socks[0]
            for i, s in enumerate(socks[1:], 1):
                me.sendall(frame(b"/tell %s hi %d" % (sids[i].encode(), i)))
                self.assertEqual(recv_frame(me), b"/rc 0")
                self.assertEqual(recv_frame(s), b"hi %d" % i)
            me.sendall(frame(b"/kick " + sids[1].encode()))
            self.assertEqual(recv_frame(me), b"/rc 0")
            assert_closed(self, socks[1])
            srv.wait_count("Connection closed", 1)
            # Stale now: NK_ENOENT (-2) when the session was this worker's;
            # another worker's drops the send silently (rc 0).
            me.sendall(frame(b"/tell %s late" % sids[1].encode()))
            rc = recv_frame(me)
            same = worker[1] == worker[0]
            self.assertEqual(rc, b"/rc -2" if same else b"/rc 0")
            me.sendall(frame(b"/tell %s self" % sids[0].encode()))
            self.assertEqual(recv_frame(me), b"self")
            self.assertEqual(recv_frame(me), b"/rc 0")
            bogus = worker[0] << 56 | 0x1234  # on me's worker: known stale
            me.sendall(frame(b"/tell %x bogus" % bogus))
            self.assertEqual(recv_frame(me), b"/rc -2")
            for s in socks:
                s.close()
            self.assertEqual(srv.stop(), 0)


class DrainTest(unittest.TestCase):
    def test_stream_paced_by_on_drain(self):
        # 64 chunks of 64 KiB to a client that does not read until the
        # plugin has had to wait: it keeps at most ~256 KiB queued, resumes
        # on on_drain, and every chunk arrives in order.
        with serve("-p", "stream", "-o", "SO_SNDBUF=65536") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
                s.sendall(frame(b"stream 64"))
                # Not reading yet: the plugin must come to wait.
                srv.wait_for("stream: waiting for on_drain")
                for k in range(64):
                    chunk = recv_frame(s)
                    self.assertEqual(len(chunk), 65536)
                    self.assertEqual(chunk[:15], b"%015d" % k)
                done = recv_frame(s).decode()
                waits = int(done.split()[1].split("=")[1])
                peak = int(done.split()[2].split("=")[1])
                self.assertGreater(waits, 0, done)
                self.assertLess(peak, 256 * 1024 + 2 * 65540, done)
            self.assertEqual(srv.stop(), 0)


class OneInstanceTest(unittest.TestCase):
    def test_one_counter_across_workers(self):
        # NK_PLUGIN_ONE_INSTANCE: with -w 4, one instance counts for every
        # connection, and create was told workers=1.
        with serve("-p", "counter", "-w", "4") as srv:
            def client(i):
                got = []
                with connect("127.0.0.1", srv.port()) as s:
                    for _ in range(50):
                        s.sendall(frame(b"incr"))
                        got.append(int(recv_frame(s)))
                return got
            results = nktest.concurrently(8, client)
            values = sorted(v for r in results.values() for v in r)
            self.assertEqual(values, list(range(1, 401)))
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"workers"))
                self.assertEqual(recv_frame(s), b"workers=1")
            self.assertEqual(srv.stop(), 0)


class TimerTest(unittest.TestCase):
    def test_timers(self):
        with serve("-p", "timers") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"after 50"))
                reply = recv_frame(s)
                self.assertTrue(reply.startswith(b"fired late="), reply)
                late = int(reply.split(b"=")[1])
                self.assertGreaterEqual(late, 0)  # never early
                s.sendall(frame(b"stale"))
                self.assertEqual(recv_frame(s), b"stale=-2")  # NK_ENOENT
                s.sendall(frame(b"every 10 5"))
                for k in range(1, 6):
                    self.assertEqual(recv_frame(s), b"tick %d" % k)
            # A session timer dies with its session: the doomed timer would
            # fire 30 ms in; another session's 100 ms timer outlasts it.
            with connect("127.0.0.1", srv.port()) as d:
                d.sendall(frame(b"doomed 30"))
                assert_closed(self, d)
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"after 100"))
                self.assertTrue(recv_frame(s).startswith(b"fired"))
            self.assertEqual(srv.stop(), 0)
        self.assertNotIn("DOOMED FIRED", srv.stderr())
        self.assertIn("timers: instance ticked yes", srv.stderr())


class ContractTest(unittest.TestCase):
    """Each broken rule closes that connection with a line naming the
    plugin and the rule; nothing from outside the buffer is sent; another
    client is served throughout."""

    def check_mode(self, mode, log):
        with serve("-p", "liar", "-O", "mode=" + mode) as srv:
            port = srv.port()
            with connect("127.0.0.1", port) as good, \
                    connect("127.0.0.1", port) as bad:
                good.sendall(frame(b"before"))
                self.assertEqual(recv_frame(good), b"echo : before")
                bad.sendall(frame(b"lie"))
                assert_closed(self, bad)
                srv.wait_for(log)
                good.sendall(frame(b"after"))
                self.assertEqual(recv_frame(good), b"echo : after")
            self.assertEqual(srv.stop(), 0)

    def test_payload_outside_the_buffer(self):
        self.check_mode("outside", "Plugin liar broke the decode contract "
                        "(payload outside the message)")

    def test_need_below_what_is_buffered(self):
        # A decoder that keeps asking for fewer bytes than it has would let
        # one connection buffer without end; it is closed at once.
        self.check_mode("shortneed", "Plugin liar broke the decode contract "
                        "(asked for more bytes than the message has)")

    def test_zero_on_a_stream(self):
        self.check_mode("zero", "Plugin liar broke the decode contract "
                        "(returned an empty message on a stream)")

    def test_overrun(self):
        self.check_mode("overrun", "Plugin liar broke the decode contract "
                        "(returned a message longer than its input)")

    def test_need_past_max_message(self):
        # Refused before buffering; the plugin still answers it.
        with serve("-p", "liar", "-O", "mode=bigneed") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"lie"))
                self.assertEqual(recv_frame(s), b"-ERR message over the size "
                                 b"limit (NK_EFRAMETOOBIG)")
                assert_closed(self, s)
            srv.wait_for("is over the limit")
            self.assertEqual(srv.stop(), 0)

    def test_encode_head_too_long(self):
        with serve("-p", "liar", "-O", "mode=longhead") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"x"))
                assert_closed(self, s)
            srv.wait_for("(invalid argument)")
            self.assertEqual(srv.stop(), 0)

    def test_long_head_through_head_ext(self):
        # A 100-byte head (room an HTTP request line needs) goes out whole.
        with serve("-p", "liar", "-O", "mode=exthead") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"x"))
                self.assertEqual(recv_exact(s, 108), b"H" * 100 + b"echo : x")
            self.assertEqual(srv.stop(), 0)

    def test_bad_input_is_answered_then_closed(self):
        with serve("-p", "liar", "-O", "mode=badinput") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"ok") + frame(b"lie"))
                self.assertEqual(recv_frame(s), b"echo : ok")
                self.assertEqual(recv_frame(s),
                                 b"-ERR lies are not allowed (NK_EPROTO)")
                assert_closed(self, s)
            srv.wait_for("lies are not allowed: closing")
            self.assertEqual(srv.stop(), 0)

    def test_udp_payload_outside_is_dropped(self):
        with serve("-p", "liar", "-u", "-O", "mode=outside") as srv:
            port = srv.port("udp")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(nktest.DEADLINE)
                u.sendto(frame(b"lie"), ("127.0.0.1", port))
                srv.wait_for("broke the decode contract")
                u.sendto(frame(b"fine"), ("127.0.0.1", port))
                self.assertEqual(u.recv(100), frame(b"echo : fine"))
            self.assertEqual(srv.stop(), 0)

    def test_create_returning_positive(self):
        r = nktest.run("serve", "-L", FIXTURES, "-p", "liar", "-P", "0",
                       "-O", "mode=createpos")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.decode().splitlines()[-1],
                         "netkit: plugin liar: create returned 1 (0 or a "
                         "negative code expected)")

    def test_create_failing_on_worker_3_of_4(self):
        r = nktest.run("serve", "-L", FIXTURES, "-p", "liar", "-P", "0",
                       "-w", "4", "-O", "mode=failworker")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.decode().splitlines()[-1],
                         "netkit: plugin liar: refusing worker 2 of 4")


class ProxyTest(unittest.TestCase):
    def test_forwards_to_a_framed_backend_and_back(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1") as back, \
                serve("-p", "proxy", "-O", "backend=%d" % back.port()) as px:
            def client(i):
                with connect("127.0.0.1", px.port()) as s:
                    for k in range(20):
                        s.sendall(frame(b"c%d m%d" % (i, k)))
                        if recv_frame(s) != b"echo : c%d m%d" % (i, k):
                            return "bad reply"
                return "ok"
            results = nktest.concurrently(10, client)
            self.assertEqual(set(results.values()), {"ok"}, results)
            # Each client's close closed its backend connection too.
            back.wait_count("Connection closed", 10)
            self.assertEqual(px.stop(), 0)
            self.assertEqual(back.stop(), 0)

    def test_backend_down_closes_the_client(self):
        with socket.socket() as hole:
            hole.bind(("127.0.0.1", 0))  # a port nobody listens on
            dead = hole.getsockname()[1]
            with serve("-p", "proxy", "-O", "backend=%d" % dead) as px:
                with connect("127.0.0.1", px.port()) as s:
                    s.sendall(frame(b"anyone?"))
                    assert_closed(self, s)
                px.wait_for("backend: Connection refused")
                self.assertEqual(px.stop(), 0)


class Abi10Test(unittest.TestCase):
    def test_frozen_10_plugin_loads_and_serves(self):
        path = os.path.join(ABI10, "framed.so")
        entry = ctypes.CDLL(path).nk_plugin_entry
        entry.restype = ctypes.POINTER(ctypes.c_uint32 * 3)
        major, minor, size = entry().contents
        self.assertEqual((major, minor), (1, 0))
        with Server("-L", ABI10, "-p", "framed", "-P", "0",
                    "-H", "127.0.0.1") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                for _ in range(9):
                    s.sendall(frame(b"hello"))
                    self.assertEqual(recv_exact(s, 16),
                                     b"\x0c\x00\x00\x00echo : hello")
                for b in frame(b"drip"):
                    s.send(bytes([b]))
                self.assertEqual(recv_frame(s), b"echo : drip")
                s.sendall(struct.pack("<I", (1 << 20) + 1))
                assert_closed(self, s)
            self.assertEqual(srv.stop(), 0)
        r = nktest.run("plugins", "-L", ABI10)
        self.assertIn(path, r.stdout.decode())


if __name__ == "__main__":
    nktest.main()
