"""nc's everyday tools in `netkit connect`: -z (a port probe), -x (a hex
dump of both directions on stderr), -C (CR LF line ends), -s and
--source-port (the local end), --listen (take one connection and print its
bytes, as nc -l PORT > file); and the combinations refused."""
import os
import re
import socket
import subprocess
import threading
import time
import unittest

import nktest
from nktest import DEADLINE, HOSTS, ISOLATED, NETKIT, Server, family_of, run

from test_connect import PyServer, free_port

# "> 00000000  68 69 0d 0a  ...  |hi..|": 16 bytes in 49 columns.
HEX_RE = re.compile(r"^([<>]) ([0-9a-f]{8})  (.{49}) \|(.{1,16})\|$")


def dumped(stderr):
    """The bytes a -x dump shows, per direction, checking each offset."""
    got = {">": b"", "<": b""}
    for line in stderr.decode().splitlines():
        m = HEX_RE.match(line)
        if not m:
            continue
        d, off = m.group(1), int(m.group(2), 16)
        assert off == len(got[d]), (line, len(got[d]))
        got[d] += bytes.fromhex(m.group(3).replace(" ", ""))
    return got


def recorder(conn, srv):
    """Record every byte; answer each recv with "ok\\n"."""
    while True:
        data = conn.recv(4096)
        if not data:
            return
        srv.record(data)
        conn.sendall(b"ok\n")


class ProbeTest(unittest.TestCase):

    def test_open_and_closed(self):
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, recorder) as srv:
                p = run("connect", "-z", host, str(srv.port))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, b"")
                self.assertIn(b"is open", p.stderr)
                port = free_port(host)
                p = run("connect", "-z", host, str(port))
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"Connection refused", p.stderr)
        # Nothing was sent to the open port: the server reads to the end
        # of the stream (the probe's close) and got no byte.
        done = threading.Event()

        def until_eof(conn, srv):
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                srv.record(data)
            done.set()

        with PyServer("127.0.0.1", until_eof) as srv:
            p = run("connect", "-z", "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(done.wait(DEADLINE))
            self.assertEqual(srv.got, [])

    def test_refused_combinations(self):
        for args in (["-z", "-m", "x"], ["-z", "--stream"], ["-z", "-u"]):
            with self.subTest(args=args):
                p = run("connect", *args, "127.0.0.1", "9")
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(b"-z only connects", p.stderr)


class HexdumpTest(unittest.TestCase):

    def test_both_directions(self):
        with Server("-p", "framed", "-H", "127.0.0.1", "-P", "0") as srv:
            p = run("connect", "-x", "-p", "framed", "-m", "hello", "-n",
                    "2", "127.0.0.1", str(srv.port()))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"echo : hello\n" * 2)  # unchanged
            got = dumped(p.stderr)
            frame = nktest.frame(b"hello")
            self.assertEqual(got[">"], frame * 2)
            self.assertEqual(got["<"], nktest.frame(b"echo : hello") * 2)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_stream_and_binary(self):
        data = bytes(range(256)) * 3
        with Server("-p", "raw", "-O", "prefix=", "-O", "exit_word=",
                    "-H", "127.0.0.1", "-P", "0") as srv:
            p = run("connect", "-x", "--stream", "127.0.0.1",
                    str(srv.port()), input=data)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, data)
            got = dumped(p.stderr)
            self.assertEqual(got[">"], data)
            self.assertEqual(got["<"], data)
            self.assertEqual(srv.stop(), 0, srv.stderr())


class CrlfTest(unittest.TestCase):

    def test_raw_and_line_messages(self):
        for proto, want in (("raw", b"hi\r\n"), ("line", b"hi\r\n")):
            with self.subTest(proto=proto), \
                    PyServer("127.0.0.1", recorder) as srv:
                p = run("connect", "-C", "-p", proto, "-m", "hi",
                        "127.0.0.1", str(srv.port))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(b"".join(srv.got), want)

    def test_stream(self):
        # LF becomes CR LF; a CR LF already there stays as it is.
        with PyServer("127.0.0.1", recorder) as srv:
            p = run("connect", "-C", "--stream", "--timeout", "0.5",
                    "127.0.0.1", str(srv.port), input=b"a\nb\r\nc\n\n")
            self.assertEqual(b"".join(srv.got), b"a\r\nb\r\nc\r\n\r\n")

    def test_framed_refused(self):
        p = run("connect", "-C", "-p", "framed", "127.0.0.1", "9")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"-C works with the raw and line plugins", p.stderr)


class SourceTest(unittest.TestCase):

    def test_source_port(self):
        for host in HOSTS:
            port = free_port(host)
            with self.subTest(host=host), \
                    Server("-p", "raw", "-H", host, "-P", "0") as srv:
                p = run("connect", "-s", host, "--source-port", str(port),
                        "-m", "hi", host, str(srv.port()))
                self.assertEqual(p.returncode, 0, p.stderr)
                srv.wait_for("Connection from %s" % (
                    "[%s]:%d" % (host, port) if ":" in host
                    else "%s:%d" % (host, port)))
                self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_source_errors(self):
        with PyServer("127.0.0.1", recorder) as srv:
            if "::1" in HOSTS:
                p = run("connect", "-s", "::1", "-m", "x", "127.0.0.1",
                        str(srv.port))
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"is of the family of -s ::1", p.stderr)
            # 192.0.2.1 (TEST-NET-1) is no address of this machine.
            p = run("connect", "-s", "192.0.2.1", "-m", "x", "127.0.0.1",
                    str(srv.port))
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"bind the source 192.0.2.1:0", p.stderr)
        p = run("connect", "--source-port", "70000", "127.0.0.1", "9")
        self.assertEqual(p.returncode, 2, p.stderr)


class ListenTest(unittest.TestCase):

    def start(self, *args):
        proc = subprocess.Popen([NETKIT, "connect", "--listen"] + list(args),
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env=dict(os.environ, **ISOLATED))
        lines = []
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            line = proc.stderr.readline().decode()
            lines.append(line)
            m = nktest.LISTEN_RE.search(line)
            if m:
                return proc, m.group(1).strip("[]"), int(m.group(2))
            if not line:
                break
        proc.kill()
        raise AssertionError("no Listen line: %r" % lines)

    def test_prints_bytes_exactly(self):
        data = os.urandom(1 << 20)
        for where in ["127.0.0.1:0"] + (["[::1]:0"] if "::1" in HOSTS
                                         else []):
            with self.subTest(where=where):
                proc, host, port = self.start(where)
                with socket.create_connection((host, port)) as s:
                    s.sendall(data)
                out, err = proc.communicate(timeout=DEADLINE)
                self.assertEqual(proc.returncode, 0, err)
                self.assertTrue(out == data, "bytes differ")
                self.assertIn(b"Connection from", err)

    def test_one_connection_only(self):
        proc, host, port = self.start("127.0.0.1:0")
        with socket.create_connection((host, port)) as s:
            s.sendall(b"first")
            # Once taken, the listener is closed: a second is refused.
            end = time.monotonic() + DEADLINE
            while True:
                try:
                    socket.create_connection((host, port)).close()
                except ConnectionRefusedError:
                    break
                self.assertLess(time.monotonic(), end, "still listening")
                time.sleep(0.05)  # poll under a deadline
        out, err = proc.communicate(timeout=DEADLINE)
        self.assertEqual(out, b"first")

    def test_refused_combinations(self):
        for args in (["0", "127.0.0.1", "9"], ["0", "-m", "x"],
                     ["0", "-u"], ["0", "-p", "framed"], ["x:y"]):
            with self.subTest(args=args):
                p = run("connect", "--listen", *args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)


if __name__ == "__main__":
    nktest.main()
