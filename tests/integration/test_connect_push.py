"""`netkit connect` in message mode prints what a server sends without being
asked: a banner on connect, a message pushed between two replies, a message
pushed from another thread while the client sits idle.  The servers are
written here the simple threaded way; the framed ones use a 4-byte
little-endian length prefix.  Input is written to the client while it runs,
each line only after the output it depends on has been read, so no test
depends on timing (every wait has a deadline, none is a sleep)."""
import os
import queue
import subprocess
import threading
import unittest

import nktest
from nktest import DEADLINE, HOSTS, ISOLATED, NETKIT
from test_connect import PyServer, fmt, recv_all

BANNER = b"welcome to the test server"


class Codec:
    """How the test server reads and writes one message."""

    def __init__(self, framed):
        self.framed = framed
        self.args = ["-p", "framed"] if framed else ["-p", "raw"]

    def recv(self, conn):
        """One message, or None when the client closed (or half-closed)."""
        if not self.framed:
            return conn.recv(1024) or None
        hdr = recv_all(conn, 4)
        if hdr is None:
            return None
        return recv_all(conn, int.from_bytes(hdr, "little"))

    def send(self, conn, payload):
        if self.framed:
            payload = len(payload).to_bytes(4, "little") + payload
        conn.sendall(payload)


class PushServer(PyServer):
    """Sends BANNER on connect, answers each message with b"re: " + it, and
    lets the test push to every client from its own thread.  On `one` it
    also pushes b"extra" right after the reply when `extra_after_one`;
    on `two` it pushes b"early" and waits for `release` before replying."""

    def __init__(self, host, codec, extra_after_one=False, hold_two=False):
        self.codec = codec
        self.conns = []
        self.extra_after_one = extra_after_one
        self.hold_two = hold_two
        self.release = threading.Event()
        self.send_lock = threading.Lock()
        super().__init__(host, self.handle)

    def send(self, conn, payload):
        with self.send_lock:  # one message at a time on the wire
            self.codec.send(conn, payload)

    def push(self, payload):
        """Send payload to every connected client, from the caller's
        thread."""
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            self.send(conn, payload)

    def handle(self, conn, srv):
        with self.lock:
            self.conns.append(conn)
        self.send(conn, BANNER)
        while True:
            msg = self.codec.recv(conn)
            if msg is None:
                return  # end of input: close, and the client ends too
            self.record(msg)
            if msg == b"two" and self.hold_two:
                self.send(conn, b"early")
                self.release.wait(DEADLINE)
            self.send(conn, b"re: " + msg)
            if msg == b"one" and self.extra_after_one:
                self.send(conn, b"extra")


class Client:
    """A running `netkit connect`; stdout is read line by line as it
    comes."""

    def __init__(self, *args):
        env = dict(os.environ, **ISOLATED)
        self.proc = subprocess.Popen([NETKIT, "connect"] + list(args),
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def line(self):
        """The next line of stdout, waited for with a deadline."""
        try:
            line = self.lines.get(timeout=DEADLINE)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError("no line from netkit connect in %ds"
                                 % DEADLINE)
        if line is None:
            raise AssertionError("netkit connect ended early: %r"
                                 % self.finish())
        return line

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def finish(self):
        """Close stdin; return (status, the rest of stdout, stderr)."""
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("netkit connect did not end")
        self.reader.join(DEADLINE)
        rest = []
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                rest.append(line)
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        return self.proc.returncode, rest, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_all(args, stdin):
    """Run netkit connect with all of stdin at once."""
    return nktest.run("connect", *args, input=stdin)


class PushTest(unittest.TestCase):

    def client(self, codec, srv, host):
        c = Client(*(codec.args + [host, str(srv.port)]))
        self.addCleanup(c.kill)
        return c

    def each(self):
        """(codec, host) for framed and raw on every loopback host."""
        for framed in (True, False):
            for host in HOSTS:
                yield Codec(framed), host

    def test_banner_before_any_request(self):
        # The banner comes while the client waits for its first line.
        for codec, host in self.each():
            with self.subTest(framed=codec.framed, host=host), \
                    PushServer(host, codec) as srv:
                c = self.client(codec, srv, host)
                self.assertEqual(c.line(), BANNER + b"\n")
                c.write(b"one\n")
                self.assertEqual(c.line(), b"re: one\n")
                rc, rest, err = c.finish()
                self.assertEqual((rc, rest), (0, []), err)
                self.assertEqual(srv.got, [b"one"])

    def test_push_between_replies(self):
        # A message the server sends unasked after one reply is printed in
        # its place; the next reply is not taken for it.
        for codec, host in self.each():
            with self.subTest(framed=codec.framed, host=host), \
                    PushServer(host, codec) as srv:
                c = self.client(codec, srv, host)
                self.assertEqual(c.line(), BANNER + b"\n")
                c.write(b"one\n")
                self.assertEqual(c.line(), b"re: one\n")
                srv.push(b"extra")
                self.assertEqual(c.line(), b"extra\n")
                c.write(b"two\n")
                self.assertEqual(c.line(), b"re: two\n")
                rc, rest, err = c.finish()
                self.assertEqual((rc, rest), (0, []), err)
                self.assertEqual(srv.got, [b"one", b"two"])

    def test_push_while_reply_owed(self):
        # A push that comes while a reply is owed, then the reply after it:
        # both printed, in order, and the session still ends cleanly.
        for codec, host in self.each():
            with self.subTest(framed=codec.framed, host=host), \
                    PushServer(host, codec, hold_two=True) as srv:
                c = self.client(codec, srv, host)
                self.assertEqual(c.line(), BANNER + b"\n")
                c.write(b"two\n")
                self.assertEqual(c.line(), b"early\n")
                srv.release.set()
                self.assertEqual(c.line(), b"re: two\n")
                rc, rest, err = c.finish()
                self.assertEqual((rc, rest), (0, []), err)

    def test_push_from_another_thread_while_idle(self):
        # Nothing is owed and no input comes: pushes are printed at once.
        for codec, host in self.each():
            with self.subTest(framed=codec.framed, host=host), \
                    PushServer(host, codec) as srv:
                c = self.client(codec, srv, host)
                self.assertEqual(c.line(), BANNER + b"\n")
                for i in range(3):
                    pusher = threading.Thread(
                        target=srv.push, args=(b"tick %d" % i,))
                    pusher.start()
                    pusher.join(DEADLINE)
                    self.assertEqual(c.line(), b"tick %d\n" % i)
                c.write(b"one\n")
                self.assertEqual(c.line(), b"re: one\n")
                rc, rest, err = c.finish()
                self.assertEqual((rc, rest), (0, []), err)

    def test_framed_all_input_at_once(self):
        # Framed messages cannot run together, so with all input at once
        # (a script) the whole conversation comes out in order: banner,
        # reply, the pushed extra, reply; then end of input, status 0.
        for host in HOSTS:
            with self.subTest(host=host), \
                    PushServer(host, Codec(True), extra_after_one=True) as srv:
                p = run_all(["-p", "framed", host, str(srv.port)],
                            b"one\ntwo\n")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.splitlines(),
                                 [BANNER, b"re: one", b"extra", b"re: two"])
                self.assertEqual(srv.got, [b"one", b"two"])

    def test_framed_count_with_banner(self):
        # -m -n N prints the N replies, and the banner before them.
        for host in HOSTS:
            with self.subTest(host=host), \
                    PushServer(host, Codec(True)) as srv:
                p = run_all(["-p", "framed", "-m", "hi", "-n", "2", host,
                             str(srv.port)], b"")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.splitlines(),
                                 [BANNER, b"re: hi", b"re: hi"])
                self.assertEqual(srv.got, [b"hi", b"hi"])

    def test_server_closes_while_idle(self):
        # Closing while nothing is owed is the end of the session, status 0,
        # said on stderr; what came before is printed.
        def banner_then_close(conn, srv):
            Codec(True).send(conn, BANNER)

        for host in HOSTS:
            with self.subTest(host=host), \
                    PyServer(host, banner_then_close) as srv:
                c = Client("-p", "framed", host, str(srv.port))
                self.addCleanup(c.kill)
                self.assertEqual(c.line(), BANNER + b"\n")
                # stdin stays open: the close alone ends the client.
                try:
                    c.proc.wait(DEADLINE)
                except subprocess.TimeoutExpired:
                    self.fail("netkit connect did not notice the close")
                rc, rest, err = c.finish()
                self.assertEqual((rc, rest), (0, []), err)
                self.assertIn(b"[*] Connection closed by %s"
                              % fmt(host, srv.port).encode(), err)


if __name__ == "__main__":
    nktest.main()
