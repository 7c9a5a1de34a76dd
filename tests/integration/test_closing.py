"""Closing without loss.  After `exit`, bad input or SIGTERM, every reply
owed for input the server read goes out, and the close is lingering: the
server shuts down its side, discards what the peer still sends for a
bounded time, then closes -- so no RST destroys replies in flight."""
import signal
import socket
import threading
import unittest

import nktest
from nktest import Server, connect, frame, recv_frame


def read_all(sock):
    """Everything until EOF; raises ConnectionResetError on an RST."""
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return bytes(data)
        data += chunk


class ExitTest(unittest.TestCase):
    def test_exit_then_more_bytes(self):
        # 20,000 lines, "exit", then 512 KiB more in one burst: every line
        # before exit is answered, the rest is discarded, and the client
        # reads every reply and a clean EOF (an RST lost 75% before).
        lines = [b"line %05d" % i for i in range(20000)]
        with Server("-p", "line", "-P", "0", "-H", "127.0.0.1",
                    "-O", "prefix=") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                burst = b"\n".join(lines) + b"\nexit\n" + b"x" * (512 << 10)
                threading.Thread(target=self._send, args=(s, burst),
                                 daemon=True).start()
                got = read_all(s)
            self.assertEqual(got, b"\n".join(lines) + b"\n")
            self.assertEqual(srv.stop(), 0)

    @staticmethod
    def _send(sock, data):
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server stops reading after its linger


class BadInputTest(unittest.TestCase):
    def test_replies_before_bad_input_survive(self):
        # Good frames, an oversized length, then a flood: the good frames'
        # replies arrive whole, then EOF, not a reset.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "-O", "max_frame=1k") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                good = b"".join(frame(b"%04d" % i + b"g" * 500)
                                for i in range(500))
                s.sendall(good + b"\xff\xff\xff\x7f" + b"y" * 100000)
                got = read_all(s)
            want = b"".join(frame(b"echo : %04d" % i + b"g" * 500)
                            for i in range(500))
            self.assertEqual(got, want)
            srv.wait_for("is over the limit")
            self.assertEqual(srv.stop(), 0)


class SigtermTest(unittest.TestCase):
    def test_paused_clients_lose_nothing(self):
        # 100 clients each send 1.5 MB of frames without reading, so the
        # server pauses them with input it has read and not answered.  At
        # SIGTERM it answers what it read, writes it, and closes cleanly:
        # each client then reads whole replies, in order, and a clean EOF.
        n, count, size = 100, 1500, 1000
        payload = b"p" * size
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "-w", "2") as srv:
            port = srv.port()
            socks = [connect("127.0.0.1", port) for _ in range(n)]
            for s in socks:
                s.setblocking(False)
                try:
                    s.send(frame(payload) * count)
                except BlockingIOError:
                    pass  # the kernel took what it could; enough to pause
                s.setblocking(True)
            srv.wait_count("Connection from", n)
            srv.proc.send_signal(signal.SIGTERM)
            results = nktest.concurrently(n, lambda i: read_all(socks[i]))
            reply = frame(b"echo : " + payload)
            for i in range(n):
                got = results[i]
                self.assertIsInstance(got, bytes, "client %d: %r" % (i, got))
                self.assertGreater(len(got), 0)
                self.assertEqual(len(got) % len(reply), 0,
                                 "client %d: a truncated reply" % i)
                self.assertEqual(got, reply * (len(got) // len(reply)))
            for s in socks:
                s.close()
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
