"""SIGHUP reloads: the command line and the config file are read again;
listeners whose sockets did not change keep them (no connection refused
meanwhile), changed ones are bound anew, new plugin options apply to new
connections, connections already open finish on the instance they began
with, and a broken config is logged while the previous one goes on.  A
client loop runs through five reloads, one of them broken, and must see
no refused connection and no lost reply."""
import os
import re
import signal
import socket
import tempfile
import threading
import time
import unittest

import nktest
from nktest import Server, frame, recv_frame

RELOADED = re.compile(r"\[\*\] Reloaded (\S+): (\d+) listeners? "
                      r"\((\d+) kept their sockets\)")
FAILED = re.compile(r"\[!\] Reload failed: (.*); still serving the "
                    r"previous configuration$")


def config(prefix, extra=""):
    return ("[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n"
            "%s\n[plugin.framed]\nprefix = \"%s\"\n" % (extra, prefix))


def ask(port, payload=b"x"):
    with nktest.connect("127.0.0.1", port) as s:
        s.sendall(frame(payload))
        return recv_frame(s)


class Loop(threading.Thread):
    """Connects, asks, closes, again and again until stopped; counts."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop, self.n = port, threading.Event(), 0
        self.errors, self.prefixes = [], set()

    def run(self):
        while not self.stop.is_set() and self.n < 100000:
            payload = b"%d" % self.n
            try:
                reply = ask(self.port, payload)
                if not reply.endswith(b": " + payload):
                    self.errors.append(("bad reply", reply))
                self.prefixes.add(reply[:-len(payload)])
            except Exception as e:  # refused, reset, closed: all failures
                self.errors.append(e)
            self.n += 1


class ReloadTest(unittest.TestCase):
    def reload(self, srv, path, content):
        with open(path, "w") as f:
            f.write(content)
        start = len(srv.lines)
        srv.proc.send_signal(signal.SIGHUP)
        return srv.wait_for(re.compile("%s|%s" % (RELOADED.pattern,
                                                  FAILED.pattern)),
                            start=start)

    def until_prefix(self, port, prefix):
        """New connections get the new options: poll (bounded) until one
        does -- the old workers may take one more before they stop."""
        end = time.monotonic() + nktest.DEADLINE
        while time.monotonic() < end:
            if ask(port).startswith(prefix):
                return
        self.fail("no reply with %r" % prefix)

    def test_five_reloads_under_load(self):
        for workers in (1, 3):
            with self.subTest(workers=workers):
                self.five_reloads(workers)

    def five_reloads(self, workers):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "netkit.ini")
            with open(path, "w") as f:
                f.write(config("v0: "))
            with Server("-c", path, "-w", str(workers)) as srv:
                port = srv.port()
                # Open before any reload: finishes on the first instance.
                held = nktest.connect("127.0.0.1", port)
                held.sendall(frame(b"a"))
                self.assertEqual(recv_frame(held), b"v0: a")
                loops = [Loop(port) for _ in range(4)]
                for loop in loops:
                    loop.start()
                made = 1
                for gen in range(1, 6):
                    # Let the clients run a while on each configuration.
                    n = sum(l.n for l in loops)
                    end = time.monotonic() + nktest.DEADLINE
                    while sum(l.n for l in loops) < n + 200 and \
                            time.monotonic() < end:
                        time.sleep(0.01)  # poll, bounded by the deadline
                    if gen == 3:
                        m = self.reload(srv, path, config("v3: ") +
                                        "max_frame = 3x\n")
                        self.assertIsNotNone(FAILED.search(m.group(0)))
                        self.assertIn("%s:8: [plugin.framed] max_frame"
                                      % path, m.group(0))
                        self.assertTrue(ask(port).startswith(b"v2: "))
                        made += 1
                        continue
                    m = self.reload(srv, path, config("v%d: " % gen))
                    m = RELOADED.search(m.group(0))
                    self.assertIsNotNone(m, srv.stderr())
                    self.assertEqual(m.group(1, 2, 3), (path, "1", "1"))
                    self.until_prefix(port, b"v%d: " % gen)
                    made += 1  # at least; counted exactly below
                    # The connection opened first is still on v0.
                    held.sendall(frame(b"b%d" % gen))
                    self.assertEqual(recv_frame(held), b"v0: b%d" % gen)
                # Some more under the last configuration, then stop.
                n = sum(l.n for l in loops)
                end = time.monotonic() + nktest.DEADLINE
                while sum(l.n for l in loops) < n + 200 and \
                        time.monotonic() < end:
                    time.sleep(0.01)  # poll, bounded by the deadline
                for loop in loops:
                    loop.stop.set()
                for loop in loops:
                    loop.join(nktest.DEADLINE)
                held.close()
                total = sum(l.n for l in loops)
                errors = [e for l in loops for e in l.errors]
                prefixes = set().union(*(l.prefixes for l in loops))
                print("\n%d worker(s): %d connections through 5 reloads, "
                      "%d failed; replies from %s" % (
                          workers, total, len(errors),
                          b" ".join(sorted(prefixes)).decode()))
                self.assertEqual(errors, [])
                self.assertGreater(total, 1000)
                self.assertIn(b"v5: ", prefixes)
                self.assertNotIn(b"v3: ", prefixes)
                self.assertEqual(srv.stop(), 0)
                err = srv.stderr()
                lines = err.splitlines()
                self.assertEqual(
                    len([l for l in lines if RELOADED.search(l)]), 4)
                self.assertEqual(
                    len([l for l in lines if FAILED.search(l)]), 1)
                # The port never changed: one Listen line only.
                self.assertEqual(len(re.findall(r"Listen on ", err)), 1)
                # Counters go on across reloads: every connection counted.
                m = re.search(r"\[listen\.main\] accepted (\d+), active 0",
                              err)
                self.assertGreaterEqual(int(m.group(1)), total + made)

    def test_changed_listener_and_notify(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.settimeout(nktest.DEADLINE)
        with tempfile.TemporaryDirectory() as d, sock:
            name = os.path.join(d, "notify")
            sock.bind(name)
            path = os.path.join(d, "netkit.ini")
            with open(path, "w") as f:
                f.write(config("a: "))
            with Server("-c", path, env={"NOTIFY_SOCKET": name}) as srv:
                self.assertIn("READY=1", sock.recv(4096).decode())
                port = srv.port()
                # A second listener appears: bound and served.
                extra = ("\n[listen.extra]\nproto = raw\nhost = 127.0.0.1\n"
                         "port = 0\n")
                start = len(srv.lines)
                m = self.reload(srv, path, config("b: ") + extra)
                self.assertEqual(RELOADED.search(m.group(0)).group(2, 3),
                                 ("2", "1"))
                self.assertIn("RELOADING=1", sock.recv(4096).decode())
                self.assertIn("READY=1", sock.recv(4096).decode())
                m = srv.wait_for(re.compile(
                    r"Listen on 127\.0\.0\.1:(\d+) \(tcp, raw\)"),
                    start=start)
                other = int(m.group(1))
                with nktest.connect("127.0.0.1", other) as s:
                    s.sendall(b"hi")
                    self.assertEqual(s.recv(100), b">Server echo : hi")
                self.until_prefix(port, b"b: ")
                # It goes again: its socket is closed (once the previous
                # workers have stopped: polled).
                m = self.reload(srv, path, config("c: "))
                self.assertEqual(RELOADED.search(m.group(0)).group(2, 3),
                                 ("1", "1"))
                self.assertIn("RELOADING=1", sock.recv(4096).decode())
                self.assertIn("READY=1", sock.recv(4096).decode())
                end = time.monotonic() + nktest.DEADLINE
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", other),
                                                 timeout=1).close()
                    except (ConnectionRefusedError, ConnectionResetError):
                        break  # (reset: caught in the closing socket)
                    self.assertLess(time.monotonic(), end)
                self.until_prefix(port, b"c: ")
                # A broken config: READY=1 again, with the failure.
                m = self.reload(srv, path, "[listen.main]\nprot = framed\n")
                self.assertIsNotNone(FAILED.search(m.group(0)))
                self.assertIn("RELOADING=1", sock.recv(4096).decode())
                self.assertIn("Reload failed", sock.recv(4096).decode())
                self.assertTrue(ask(port).startswith(b"c: "))
                # STATUS= carries the counters (also every 10 s).
                srv.proc.send_signal(signal.SIGUSR1)
                status = sock.recv(4096).decode()
                self.assertRegex(status, r"^STATUS=Serving 1 listener: \d+ "
                                 r"connections accepted, \d+ active, 0 "
                                 r"datagrams, \d+ messages$")
                self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
