"""`netkit connect` against netkit's own server, against independent servers
written here the simple threaded way a tutorial would (bind/listen/accept, a
thread per client), and with --stream against socat.  Every case runs on
127.0.0.1 and ::1 (where the machine has IPv6).  Readiness is always waited
for with a deadline, never with a sleep."""
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest

import nktest
from nktest import DEADLINE, HOSTS, Server, family_of, recv_exact, run

RAW_PREFIX = b">Server echo : "
FRAMED_PREFIX = b"echo : "


def fmt(host, port):
    """An address as netkit prints it: IPv6 in brackets."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def free_port(host, kind=socket.SOCK_STREAM):
    """A port nothing listens on right now (bound to port 0, then closed)."""
    with socket.socket(family_of(host), kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stderr_lines(proc):
    return proc.stderr.decode("utf-8", "replace").splitlines()


class PyServer:
    """A tutorial-style TCP server: accept in a thread, a thread per client
    running `handler(conn, server)`.  Messages it receives go to `got`."""

    def __init__(self, host, handler):
        self.handler = handler
        self.got = []
        self.lock = threading.Lock()
        self.sock = socket.socket(family_of(host), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # the listening socket was shut down
            conn.settimeout(DEADLINE)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        with conn:
            try:
                self.handler(conn, self)
            except OSError:
                pass

    def record(self, msg):
        with self.lock:
            self.got.append(msg)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        except OSError:
            pass
        self.sock.close()
        self.thread.join(DEADLINE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_echo(conn, srv):
    """Answer each recv with the prefix + data; close on `exit`."""
    while True:
        data = conn.recv(1024)
        if not data:
            return
        srv.record(data)
        if data.strip() == b"exit":
            return
        conn.sendall(RAW_PREFIX + data)


def recv_all(conn, n):
    """n bytes, or None when the peer closed first."""
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def framed_echo(conn, srv):
    """Read a 4-byte little-endian length and the payload; answer
    `echo : ` + payload framed the same way, header and payload in two
    writes (so the client must put a reply back together)."""
    while True:
        hdr = recv_all(conn, 4)
        if hdr is None:
            return
        payload = recv_all(conn, int.from_bytes(hdr, "little"))
        if payload is None:
            return
        srv.record(payload)
        reply = FRAMED_PREFIX + payload
        conn.sendall(len(reply).to_bytes(4, "little"))
        conn.sendall(reply)


def silent(conn, srv):
    """Accept and never answer, until the client goes away."""
    while conn.recv(1024):
        pass


class OwnServerTest(unittest.TestCase):
    """netkit connect against netkit serve, both plugins, TCP and UDP."""

    def check(self, proto, udp, host, stdin, want, *extra):
        args = ["-p", proto, "-H", host, "-P", "0"] + (["-u"] if udp else [])
        with Server(*args) as srv:
            port = srv.port("udp" if udp else "tcp")
            cmd = ["connect", "-p", proto] + (["-u"] if udp else [])
            p = run(*(cmd + list(extra) + [host, str(port)]), input=stdin)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, want)
            self.assertIn("[*] Connect to %s" % fmt(host, port),
                          stderr_lines(p))
            self.assertNotIn(b"> ", p.stderr)  # no prompt: stdin is a pipe
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_framed_tcp_lines(self):
        # Each line is one message; each reply is printed on its own line.
        for host in HOSTS:
            with self.subTest(host=host):
                self.check("framed", False, host, b"hello\nworld\r\n",
                           b"echo : hello\necho : world\n")

    def test_framed_tcp_message_count(self):
        for host in HOSTS:
            with self.subTest(host=host):
                self.check("framed", False, host, b"", b"echo : hello\n" * 3,
                           "-m", "hello", "-n", "3")

    def test_framed_exit_reply_printed(self):
        # A framed server answers `exit`; the client prints it and stops.
        for host in HOSTS:
            with self.subTest(host=host):
                self.check("framed", False, host, b"hello\nexit\nafter\n",
                           b"echo : hello\necho : exit\n")

    def test_raw_tcp_lines(self):
        for host in HOSTS:
            with self.subTest(host=host):
                self.check("raw", False, host, b"hello\nworld\n",
                           RAW_PREFIX + b"hello\n" + RAW_PREFIX + b"world\n")

    def test_raw_tcp_exit_closes(self):
        # A raw server closes on `exit`: the normal end, status 0.
        for host in HOSTS:
            with self.subTest(host=host):
                self.check("raw", False, host, b"hello\nexit\nafter\n",
                           RAW_PREFIX + b"hello\n")

    def test_raw_udp(self):
        for host in HOSTS:
            with self.subTest(host=host):
                self.check("raw", True, host, b"hello\nworld\n",
                           RAW_PREFIX + b"hello\n" + RAW_PREFIX + b"world\n")

    def test_framed_udp(self):
        for host in HOSTS:
            with self.subTest(host=host):
                self.check("framed", True, host, b"hello\n",
                           b"echo : hello\n")
                self.check("framed", True, host, b"", b"echo : hi\n" * 2,
                           "-m", "hi", "-n", "2")

    def test_raw_stream_half_close(self):
        # --stream: bytes out as they are, the reply as it is; end of input
        # half-closes, the server then closes, and the client exits 0.
        for host in HOSTS:
            with self.subTest(host=host), \
                    Server("-p", "raw", "-H", host, "-P", "0") as srv:
                p = run("connect", "--stream", host, str(srv.port()),
                        input=b"hello")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, RAW_PREFIX + b"hello")
                self.assertEqual(srv.stop(), 0, srv.stderr())


class IndependentServerTest(unittest.TestCase):
    """netkit connect prints exactly what servers it did not write send."""

    def test_raw_server(self):
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, raw_echo) as srv:
                p = run("connect", host, str(srv.port),
                        input=b"hello\nsecond line\n")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, RAW_PREFIX + b"hello\n" +
                                 RAW_PREFIX + b"second line\n")
                self.assertEqual(srv.got, [b"hello", b"second line"])

    def test_raw_server_exit(self):
        # `exit` is sent like any other line; the server closes; status 0;
        # nothing after it is sent.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, raw_echo) as srv:
                p = run("connect", host, str(srv.port),
                        input=b"hello\nexit\nafter\n")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, RAW_PREFIX + b"hello\n")
                self.assertEqual(srv.got, [b"hello", b"exit"])

    def test_framed_server(self):
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, framed_echo) as srv:
                p = run("connect", "-p", "framed", "-m", "hello", "-n", "3",
                        host, str(srv.port))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, b"echo : hello\n" * 3)

    def test_framed_server_exit(self):
        # The framed server answers `exit`: printed, then the client closes.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, framed_echo) as srv:
                p = run("connect", "-p", "framed", host, str(srv.port),
                        input=b"hello\n\nexit\nafter\n")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout,
                                 b"echo : hello\necho : \necho : exit\n")
                self.assertEqual(srv.got, [b"hello", b"", b"exit"])

    def test_server_closes_early(self):
        # A server that closes without answering is an error, status 1.
        for host in HOSTS:
            with self.subTest(host=host), \
                    PyServer(host, lambda c, s: None) as srv:
                p = run("connect", "-m", "hello", host, str(srv.port))
                self.assertEqual(p.returncode, 1, p.stderr)
                # Then a hint at another protocol (test_connect_habits.py).
                self.assertTrue(stderr_lines(p)[-1].startswith(
                    "netkit: connection closed by %s (" % fmt(host, srv.port)),
                    p.stderr)


class ErrorTest(unittest.TestCase):
    """Exit status 1 for run-time failures, 2 for usage, one netkit: line."""

    def test_refused(self):
        for host in HOSTS:
            with self.subTest(host=host):
                port = free_port(host)
                p = run("connect", "-m", "hi", host, str(port))
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertEqual(stderr_lines(p),
                                 ["netkit: connect %s: Connection refused"
                                  % fmt(host, port)])
                self.assertEqual(p.stdout, b"")

    def test_reply_timeout(self):
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, silent) as srv:
                start = time.monotonic()
                p = run("connect", "--timeout", "1", "-m", "hi", host,
                        str(srv.port))
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertTrue(stderr_lines(p)[-1].startswith(
                    "netkit: no reply from %s within 1s (" %
                    fmt(host, srv.port)), p.stderr)
                self.assertLess(time.monotonic() - start, DEADLINE)

    def test_udp_no_reply_goes_on(self):
        # Over UDP a missing reply is reported, the next message still goes,
        # and the status is 1 at the end.
        for host in HOSTS:
            with self.subTest(host=host), \
                    socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
                p = run("connect", "-u", "--timeout", "0.5", "-m", "hi",
                        "-n", "2", host, str(port))
                self.assertEqual(p.returncode, 1, p.stderr)
                line = "netkit: no reply from %s within 0.5s" % fmt(host, port)
                self.assertEqual(stderr_lines(p).count(line), 2, p.stderr)
                s.settimeout(DEADLINE)
                self.assertEqual([s.recv(100), s.recv(100)], [b"hi", b"hi"])

    def test_unknown_host(self):
        p = run("connect", "-m", "hi", "nosuch.invalid", "9999")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(stderr_lines(p)), 1, p.stderr)
        self.assertTrue(stderr_lines(p)[0].startswith(
            "netkit: cannot resolve 'nosuch.invalid': "), p.stderr)

    def test_usage(self):
        cases = [
            ([], None),
            (["127.0.0.1", "70000"], "netkit: port '70000': expected 1..65535"),
            (["--stream", "-p", "framed", "127.0.0.1", "9"],
             "netkit: --stream works with the raw plugin only"),
            (["-O", "nope=1", "127.0.0.1", "9"],
             "netkit: -O nope: plugin 'raw' has no option 'nope'"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                p = run("connect", *args)
                self.assertEqual(p.returncode, 2, p.stderr)
                lines = stderr_lines(p)
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertTrue(lines[0].startswith("netkit: "), p.stderr)
                if want is not None:
                    self.assertEqual(lines[0], want)


class StreamIdleTest(unittest.TestCase):
    """--stream --timeout S: an idle limit, only when given."""

    def start(self, *args):
        """netkit connect with a stdin that stays open and silent."""
        proc = subprocess.Popen([nktest.NETKIT, "connect"] + list(args),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env=dict(os.environ, **nktest.ISOLATED))

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.addCleanup(stop)
        return proc

    @staticmethod
    def outcome(proc):
        """Wait for the end with stdin still open (communicate() would
        close it, and end of input ends the pipe); return (out, err)."""
        proc.wait(DEADLINE)
        return proc.stdout.read(), proc.stderr.read()

    def test_idle_limit(self):
        # Nothing moves either way: after 0.5s, one netkit: line, status 1.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, silent) as srv:
                start = time.monotonic()
                proc = self.start("--stream", "--timeout", "0.5", host,
                                  str(srv.port))
                out, err = self.outcome(proc)
                took = time.monotonic() - start
                self.assertEqual(proc.returncode, 1, err)
                self.assertEqual(out, b"")
                self.assertEqual(err.decode().splitlines()[-1],
                                 "netkit: no byte to or from %s for 0.5s"
                                 % fmt(host, srv.port))
                self.assertGreaterEqual(took, 0.5)
                self.assertLess(took, DEADLINE)

    def test_idle_limit_restarts_on_traffic(self):
        # The limit is on silence, not on the whole session: bytes that keep
        # coming (every 0.1s, six times) keep the pipe open past 0.5s, then
        # it ends 0.5s after the last one.
        def trickle(conn, srv):
            for i in range(6):
                conn.sendall(b"%d" % i)
                time.sleep(0.1)  # the trickle under test
            silent(conn, srv)

        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, trickle) as srv:
                start = time.monotonic()
                proc = self.start("--stream", "--timeout", "0.5", host,
                                  str(srv.port))
                out, err = self.outcome(proc)
                self.assertEqual(proc.returncode, 1, err)
                self.assertEqual(out, b"012345")
                self.assertGreaterEqual(time.monotonic() - start, 1.0)

    def test_no_limit_without_timeout(self):
        # Without --timeout a silent pipe stays open, past the 5s that
        # --timeout means for replies.  The behaviour under test is "does
        # not exit", so this waits, bounded, for both hosts at once.
        servers = [PyServer(host, silent) for host in HOSTS]
        for srv in servers:
            self.addCleanup(srv.close)
        procs = [self.start("--stream", host, str(srv.port))
                 for host, srv in zip(HOSTS, servers)]
        end = time.monotonic() + 5.5
        for proc in procs:
            try:
                proc.wait(max(0, end - time.monotonic()))
                self.fail("exited: %r" % (self.outcome(proc),))
            except subprocess.TimeoutExpired:
                pass


@unittest.skipUnless(shutil.which("socat"), "needs socat")
class StreamTest(unittest.TestCase):
    """--stream is a byte pipe: socat echoes back exactly what it gets."""

    def socat(self, host):
        """Start an echoing socat on a free port; return (proc, port) once it
        accepts connections (polled with a deadline, never slept for)."""
        port = free_port(host)
        if ":" in host:
            listen = "TCP6-LISTEN:%d,bind=[%s],reuseaddr,fork" % (port, host)
        else:
            listen = "TCP-LISTEN:%d,bind=%s,reuseaddr,fork" % (port, host)
        proc = subprocess.Popen(["socat", listen, "PIPE"],
                                stdin=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.addCleanup(self.stop, proc)
        end = time.monotonic() + DEADLINE
        while True:
            try:
                socket.create_connection((host, port), timeout=1).close()
                return port
            except OSError:
                pass
            if time.monotonic() > end:
                self.fail("socat did not listen on %s" % fmt(host, port))
            try:
                # Waiting on the process both paces the retries and notices
                # a socat that failed to start.
                proc.wait(0.02)
                self.fail("socat exited: %s" % proc.stderr.read().decode())
            except subprocess.TimeoutExpired:
                pass

    @staticmethod
    def stop(proc):
        proc.terminate()
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    def test_binary_with_zero_bytes(self):
        data = b"a\x00b\r\n\x00\xff" + bytes(range(256))
        for host in HOSTS:
            with self.subTest(host=host):
                port = self.socat(host)
                p = run("connect", "--stream", host, str(port), input=data)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, data)
                self.assertIn("[*] Connect to %s" % fmt(host, port),
                              stderr_lines(p))

    def test_ten_mib(self):
        data = os.urandom(10 << 20)
        for host in HOSTS:
            with self.subTest(host=host):
                port = self.socat(host)
                p = run("connect", "--stream", host, str(port), input=data,
                        timeout=DEADLINE * 6)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(len(p.stdout), len(data))
                self.assertEqual(hashlib.sha256(p.stdout).hexdigest(),
                                 hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    nktest.main()
