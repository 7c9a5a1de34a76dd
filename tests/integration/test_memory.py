"""A memory ceiling: [netkit] max_buffer_memory bounds the input and output
buffered for all connections together, and a buffer grows with what has
arrived, not with what a length field promises.  Many peers each holding a
near-full frame are closed, biggest first, once the budget is reached; the
server's memory stays near the budget, and a well-behaved client is still
answered."""
import resource
import socket
import time
import unittest

import nktest
from nktest import Server, connect, frame, recv_frame

MiB = 1 << 20


def status(pid, key):
    """A /proc/PID/status figure in bytes (VmRSS, VmSize)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for %d" % (key, pid))


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


@unittest.skipIf(nktest.VALGRIND or nktest.SANITIZED,
                 "the checker's own memory hides the figures")
class BudgetTest(unittest.TestCase):
    def test_many_near_full_frames(self):
        # 2,000 connections each send 1 MiB - 1 KiB of a 1 MiB frame: 2 GB
        # wanted, a 64 MiB budget.  Before, RSS followed the peers.
        raise_nofile(4096)
        n, budget = 2000, 64 * MiB
        with nktest.config_file("[netkit]\nmax_buffer_memory = 64M\n"
                                "[listen.main]\nproto = framed\n"
                                "host = 127.0.0.1\nport = 0\n") as path:
            with Server("-c", path) as srv:
                port = srv.port()
                base = status(srv.proc.pid, "VmRSS")
                head = (MiB).to_bytes(4, "little")
                part = head + b"m" * (MiB - 1024)
                peers, peak = [], 0
                for i in range(n):
                    s = socket.create_connection(("127.0.0.1", port))
                    s.settimeout(nktest.DEADLINE)
                    try:
                        s.sendall(part)
                    except OSError:
                        pass  # closed over the budget while sending
                    peers.append(s)
                    if i % 50 == 49:
                        peak = max(peak, status(srv.proc.pid, "VmRSS"))
                with connect("127.0.0.1", port) as good:
                    good.sendall(frame(b"still served"))
                    self.assertEqual(recv_frame(good), b"echo : still served")
                peak = max(peak, status(srv.proc.pid, "VmRSS"))
                srv.wait_for("over max_buffer_memory")
                for s in peers:
                    s.close()
                self.assertEqual(srv.stop(), 0)
        print("\n%d peers x 1 MiB, budget 64 MiB: server RSS %.1f MiB at "
              "start, %.1f MiB at peak" % (n, base / MiB, peak / MiB))
        # The budget, plus a few buffers in flight and the process itself.
        self.assertLess(peak - base, budget + 32 * MiB)
        self.assertIn("closed", srv.stderr())

    def test_length_field_reserves_nothing(self):
        # 500 connections each send a header announcing 1 MiB, then two
        # bytes: that reserved 1-2 MiB of address space each (VmSize +1 GB).
        raise_nofile(4096)
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1") as srv:
            port = srv.port()
            before = status(srv.proc.pid, "VmSize")
            peers = []
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall((MiB).to_bytes(4, "little"))
                peers.append(s)
            srv.wait_count("Connection from", 500)
            for s in peers:  # the rest of the six bytes, in a second read
                s.sendall(b"ab")
            with connect("127.0.0.1", port) as good:
                good.sendall(frame(b"ok"))
                self.assertEqual(recv_frame(good), b"echo : ok")
            grown = status(srv.proc.pid, "VmSize") - before
            for s in peers:
                s.close()
            self.assertEqual(srv.stop(), 0)
        print("\n500 peers announcing 1 MiB: VmSize grew %.1f MiB"
              % (grown / MiB))
        self.assertLess(grown, 128 * MiB)


@unittest.skipIf(nktest.VALGRIND or nktest.SANITIZED,
                 "the checker's own memory hides the figures")
class ReturnedTest(unittest.TestCase):
    def test_freed_buffers_go_back_to_the_system(self):
        # 1,000 peers each hold 60 KiB of a frame, then all close: their
        # buffers were freed in the middle of the heaps, where glibc keeps
        # them (RSS stayed 30 MiB over the start for good).  Now the heaps
        # are trimmed within a second of the release.
        raise_nofile(4096)
        n, size = 1000, 60 << 10
        for workers in ("1", "2"):
            with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                        "-w", workers) as srv:
                port = srv.port()
                base = status(srv.proc.pid, "VmRSS")
                part = size.to_bytes(4, "little") + b"m" * (size - 1024)
                peers = []
                for _ in range(n):
                    s = socket.create_connection(("127.0.0.1", port))
                    s.sendall(part)
                    peers.append(s)
                with connect("127.0.0.1", port) as good:  # all read
                    good.sendall(frame(b"ok"))
                    self.assertEqual(recv_frame(good), b"echo : ok")
                peak = status(srv.proc.pid, "VmRSS")
                for s in peers:
                    s.close()
                srv.wait_count("Connection closed", n)
                end = time.monotonic() + nktest.DEADLINE
                rss = status(srv.proc.pid, "VmRSS")
                while rss - base > 12 * MiB and time.monotonic() < end:
                    time.sleep(0.1)  # poll, bounded by the deadline
                    rss = status(srv.proc.pid, "VmRSS")
                self.assertEqual(srv.stop(), 0)
            print("\n-w %s: %d peers x 60 KiB: RSS %.1f MiB at start, "
                  "%.1f MiB at peak, %.1f MiB after they closed"
                  % (workers, n, base / MiB, peak / MiB, rss / MiB))
            self.assertGreater(peak - base, 32 * MiB)  # it did hold them
            self.assertLess(rss - base, 12 * MiB)

if __name__ == "__main__":
    nktest.main()
