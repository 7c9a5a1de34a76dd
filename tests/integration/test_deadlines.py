"""Deadlines on every listener: a begun message must complete
(--message-timeout), queued output must be written (--write-timeout), and
idle connections close (--idle-timeout, on by default).  Each hostile peer
is closed with a log line naming the deadline and counted at exit, while a
well-behaved client keeps being answered.  The peers' pauses are the
behaviour under test (a drip, a slow reader), not waits for readiness."""
import select
import socket
import threading
import time
import unittest

import nktest
from nktest import Server, connect, frame, recv_frame


def served(port, text=b"ping"):
    """One exchange with a fresh framed client: True if answered."""
    with connect("127.0.0.1", port) as s:
        s.sendall(frame(text))
        return recv_frame(s) == b"echo : " + text


class MessageTimeoutTest(unittest.TestCase):
    def test_drip_is_closed(self):
        # A peer dripping one byte every 0.1 s never lets a frame complete;
        # it outlived --idle-timeout before, since every byte was activity.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "--message-timeout", "0.5", "--idle-timeout", "5") as srv:
            port = srv.port()
            with connect("127.0.0.1", port) as drip, \
                    connect("127.0.0.1", port) as good:
                start = time.monotonic()
                closed = False
                for b in frame(b"x" * 100):
                    try:
                        drip.send(bytes([b]))
                    except (BrokenPipeError, ConnectionResetError):
                        closed = True
                        break
                    self.assertTrue(served(port))
                    good.sendall(frame(b"still"))
                    self.assertEqual(recv_frame(good), b"echo : still")
                    time.sleep(0.1)  # the drip under test
                    if time.monotonic() - start > 5:
                        break
                srv.wait_for("(message timeout)")
                self.assertLess(time.monotonic() - start, 5)
            self.assertEqual(srv.stop(), 0)
        self.assertIn("closed on a deadline: 0 idle, 1 message, 0 write",
                      srv.stderr())

    def test_drippers_cannot_hold_every_slot(self):
        # 49 drippers on a --max-conns 50 server held it against every
        # newcomer; now each is closed at its message deadline and the 12
        # newcomers are all served within a few seconds.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "--max-conns", "50", "--message-timeout", "0.5") as srv:
            port = srv.port()
            drippers = [connect("127.0.0.1", port) for _ in range(49)]
            for d in drippers:
                d.send(b"\x10\x00")  # a header begun, never finished
            srv.wait_count("Connection from", 49)
            ok = 0
            deadline = time.monotonic() + 8
            while ok < 12 and time.monotonic() < deadline:
                try:
                    ok += served(port)
                except (ConnectionError, AssertionError, OSError):
                    time.sleep(0.05)  # refused while full: try again
            self.assertEqual(ok, 12)
            srv.wait_count("(message timeout)", 49)
            for d in drippers:
                d.close()
            self.assertEqual(srv.stop(), 0)


class WriteTimeoutTest(unittest.TestCase):
    def test_slow_reader_is_closed(self):
        # A reader taking a byte now and then of a 4 MiB answer outlived
        # --idle-timeout (reading is activity); its output must be written
        # within --write-timeout.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                    "-O", "prefix=", "-O", "exit_word=",
                    "--write-timeout", "0.5", "--idle-timeout", "3",
                    "-o", "SO_SNDBUF=16384") as srv:
            port = srv.port()
            slow = connect("127.0.0.1", port)
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stop = threading.Event()
            threading.Thread(target=self._push, args=(slow,),
                             daemon=True).start()
            threading.Thread(target=self._read_slowly, args=(slow, stop),
                             daemon=True).start()
            # Closed at its deadline, long before its 4 MiB could be read
            # at this pace (the bytes already in its receive buffer still
            # trickle in after the close, so the log is what is checked).
            srv.wait_for("(write timeout)", timeout=3)
            stop.set()
            with connect("127.0.0.1", port) as good:
                good.sendall(b"hello")
                self.assertEqual(good.recv(100), b"hello")
            slow.close()
            self.assertEqual(srv.stop(), 0)
        self.assertIn("0 message, 1 write", srv.stderr())

    @staticmethod
    def _read_slowly(sock, stop):
        while not stop.is_set():
            try:
                if not sock.recv(1):
                    return
            except OSError:
                return
            time.sleep(0.05)  # the slow reader under test

    @staticmethod
    def _push(sock):
        try:
            sock.sendall(b"z" * (4 << 20))
        except OSError:
            pass  # closed by the server: the point of the test


def stall(socks, chunk, limit=16 << 20):
    """Send `chunk` (whole frames) over and over on every socket and never
    read the echoes, until the server stops taking them (it is paused on
    its output) or `limit` bytes went on each.  Ends on a frame boundary
    or not: the caller sends whatever ends its stream after."""
    quiet = 2 if nktest.VALGRIND else 0.5
    sent = {s: 0 for s in socks}
    for s in socks:
        s.setblocking(False)
    end = time.monotonic() + nktest.DEADLINE
    while sent and time.monotonic() < end:
        _, ready, _ = select.select([], list(sent), [], quiet)
        if not ready:
            break  # nothing taken for a while: stalled
        for s in ready:
            try:
                sent[s] += s.send(chunk[sent[s] % len(chunk):])
            except BlockingIOError:
                continue
            except OSError:
                del sent[s]  # closed already
                continue
            if sent[s] >= limit:
                del sent[s]


def opened_socket(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    return s


class DeadlinesApartTest(unittest.TestCase):
    """Each deadline fires at its own time, whatever the others are set
    to: the timer of one connection serves all three."""

    def test_write_timeout_under_the_default_message_timeout(self):
        # Clients that send frames and never read: each first sends half
        # a frame header, so its message deadline (30 s by default) is
        # armed before the write deadline (1 s) begins.  The write
        # deadline waited for the message one: they were closed after
        # 30 s, not 1.
        n = 20
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "--write-timeout", "1", "--idle-timeout", "60") as srv:
            port = srv.port()
            peers = [opened_socket(port) for _ in range(n)]
            for p in peers:
                p.send(b"\x04\x00")  # half a header
            srv.wait_count("Connection from", n)
            time.sleep(0.2)  # the peers' pause under test: two pieces
            for p in peers:
                p.send(b"\x00\x00ping")
            stall(peers, frame(b"w" * 65536) * 4)
            start = time.monotonic()
            srv.wait_count("(write timeout)", n, timeout=8)
            took = time.monotonic() - start
            self.assertLess(took, 8)
            with connect("127.0.0.1", port) as good:
                good.sendall(frame(b"ok"))
                self.assertEqual(recv_frame(good), b"echo : ok")
            for p in peers:
                p.close()
            self.assertEqual(srv.stop(), 0)
        self.assertIn("0 idle, 0 message, %d write" % n, srv.stderr())

    def test_message_timeout_under_a_long_write_timeout(self):
        # A peer that does not read its echoes (its write deadline, 60 s,
        # begins) and then begins a frame it never finishes: its message
        # deadline (1 s) closes it at 1 s, not at 60.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "--message-timeout", "1", "--write-timeout", "60",
                    "--idle-timeout", "60", "-o", "SO_SNDBUF=16384") as srv:
            port = srv.port()
            p = opened_socket(port)
            for _ in range(8):  # frames one by one, each read whole
                p.sendall(frame(b"m" * 12000))
                time.sleep(0.05)  # the peer's pace under test
            time.sleep(0.2)  # then, after a pause, more
            p.sendall(b"\x10\x00")  # a header begun, never finished
            start = time.monotonic()
            srv.wait_for("(message timeout)", timeout=8)
            self.assertLess(time.monotonic() - start, 8)
            p.close()
            self.assertEqual(srv.stop(), 0)
        self.assertIn("0 idle, 1 message, 0 write", srv.stderr())

    def test_idle_timeout_among_longer_deadlines(self):
        # An idle peer is closed at --idle-timeout (1 s) while the other
        # two deadlines are long, and a peer in the middle of a message
        # is closed at its message deadline, not the idle one's.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "--idle-timeout", "1", "--message-timeout", "3",
                    "--write-timeout", "60") as srv:
            port = srv.port()
            idle = connect("127.0.0.1", port)
            idle.sendall(frame(b"hi"))
            self.assertEqual(recv_frame(idle), b"echo : hi")
            start = time.monotonic()
            srv.wait_for("(idle timeout)", timeout=8)
            self.assertLess(time.monotonic() - start, 8)
            idle.close()
            self.assertEqual(srv.stop(), 0)
        self.assertIn("1 idle, 0 message, 0 write", srv.stderr())


class IdleDefaultTest(unittest.TestCase):
    def test_help_states_the_defaults(self):
        r = nktest.run("serve", "--help")
        out = " ".join(r.stdout.decode().split())  # wrapped at 80 columns
        self.assertIn("(default 300; 0: never)", out)
        self.assertIn("--message-timeout", out)
        self.assertIn("--write-timeout", out)


if __name__ == "__main__":
    nktest.main()
