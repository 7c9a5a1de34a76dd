"""nc and ncat habits with `netkit connect` and `netkit serve`: each gets a
pointer (exit 2, one `netkit:` line) or works (a bare port, HOST:PORT, a
service name); a mistyped plugin gets a "did you mean"; a reply in another
protocol than the one spoken gets a hint; contradictory or dangling options
are refused."""
import socket
import threading
import unittest

import nktest
from nktest import DEADLINE, HOSTS, Server, family_of, run

from test_connect import PyServer, free_port


def refused(testcase, args, *wants, cmd="connect"):
    """`netkit CMD ARGS` exits 2 with one `netkit:` line holding wants."""
    p = run(cmd, *args)
    err = p.stderr.decode()
    testcase.assertEqual(p.returncode, 2, err)
    testcase.assertEqual(len(err.splitlines()), 1, err)
    testcase.assertTrue(err.startswith("netkit: "), err)
    for w in wants:
        testcase.assertIn(w, err)
    return err


class NcFlagsTest(unittest.TestCase):

    def test_p_port_is_not_a_plugin(self):
        refused(self, ["-p", "9999", "localhost"],
                "the port is positional: netkit connect HOST 9999")
        refused(self, ["-p", "9999"], "did you mean -P 9999?", cmd="serve")

    def test_listen_flags(self):
        for flag in ("-l", "-k"):
            with self.subTest(flag=flag):
                refused(self, [flag, "9999"],
                        "did you mean netkit serve -P PORT?")
        refused(self, ["-l"], "the port is -P PORT", cmd="serve")

    def test_flags_that_differ(self):
        refused(self, ["-w", "3", "127.0.0.1", "9"],
                "nc's -w SECONDS is --timeout SECONDS")
        refused(self, ["-q", "1", "127.0.0.1", "9"], "-q is --quiet here")
        refused(self, ["-n", "127.0.0.1", "9"], "nc's -n")
        refused(self, ["-c", "127.0.0.1", "9"],
                "-c is the config file here")
        refused(self, ["-e", "/bin/sh", "127.0.0.1", "9"], "nc's -e")

    def test_contradictions(self):
        refused(self, ["-4", "-6", "127.0.0.1", "9"],
                "-4 and -6 cannot be used together")
        refused(self, ["-6", "-4", "127.0.0.1", "9"],
                "-4 and -6 cannot be used together")
        refused(self, ["-L", "/nonexistent/plugins", "127.0.0.1", "9"],
                "'/nonexistent/plugins' is not a directory")
        refused(self, ["-L", "/nonexistent/plugins", "-P", "0"],
                "'/nonexistent/plugins' is not a directory", cmd="serve")
        refused(self, ["-n", "3", "127.0.0.1", "9"], "-n N needs -m TEXT")

    def test_plugin_did_you_mean(self):
        refused(self, ["-p", "framd", "127.0.0.1", "9"],
                "plugin 'framd' not found (did you mean framed?")
        refused(self, ["-p", "lin", "-P", "0"], "did you mean line?",
                cmd="serve")
        err = refused(self, ["-p", "zzzzzz", "127.0.0.1", "9"])
        self.assertNotIn("did you mean", err)

    def test_refused_reported_once(self):
        port = free_port("127.0.0.1")
        p = run("connect", "-v", "-m", "x", "127.0.0.1", str(port))
        self.assertEqual(p.returncode, 1, p.stderr)
        lines = [l for l in p.stderr.decode().splitlines()
                 if "refused" in l]
        self.assertEqual(lines, ["netkit: connect 127.0.0.1:%d: Connection "
                                 "refused" % port])


class TargetFormsTest(unittest.TestCase):
    """HOST:PORT, [V6]:PORT, a bare PORT and service names."""

    def test_forms(self):
        for host in HOSTS:
            with Server("-p", "raw", "-H", host, "-P", "0") as srv:
                port = srv.port()
                forms = [[host + ":%d" % port] if ":" not in host
                         else ["[%s]:%d" % (host, port)],
                         [host, str(port)]]
                if host == "127.0.0.1":
                    forms.append([str(port)])  # localhost
                for form in forms:
                    with self.subTest(form=form):
                        p = run("connect", "-m", "hi", *form)
                        self.assertEqual(p.returncode, 0, p.stderr)
                        self.assertEqual(p.stdout,
                                         b">Server echo : hi\n")
                self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_service_names(self):
        if socket.getservbyname("tcpmux", "tcp") != 1:
            self.skipTest("no tcpmux in /etc/services")
        # Port 1 (tcpmux) has no server here: the name became the number.
        p = run("connect", "-m", "x", "127.0.0.1", "tcpmux")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"connect 127.0.0.1:1:", p.stderr)
        p = run("connect", "-m", "x", "127.0.0.1:tcpmux")
        self.assertIn(b"connect 127.0.0.1:1:", p.stderr)
        refused(self, ["127.0.0.1", "nosuchservice"],
                "expected 1..65535 or a service name")

    def test_bad_forms(self):
        refused(self, ["::1:99"], "in brackets ([::1]:9999)")
        refused(self, ["somehost"], "HOST PORT, HOST:PORT or PORT")
        refused(self, ["127.0.0.1", "70000"],
                "port '70000': expected 1..65535")


def line_echo(conn, srv):
    """A line server: answers each newline-ended line, nothing before."""
    buf = b""
    while True:
        data = conn.recv(1024)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            conn.sendall(b"echo : " + line + b"\n")


def framed_banner(conn, srv):
    """A framed server that greets first: a 4-byte length and the text."""
    conn.sendall(len(b"welcome").to_bytes(4, "little") + b"welcome")
    while conn.recv(1024):
        pass


class ProtocolHintTest(unittest.TestCase):

    def test_raw_against_line_server(self):
        with PyServer("127.0.0.1", line_echo) as srv:
            p = run("connect", "--timeout", "0.5", "-m", "hello",
                    "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"waits for a newline: try -p line", p.stderr)
            # And the hint is right.
            p = run("connect", "-p", "line", "-m", "hello", "127.0.0.1",
                    str(srv.port))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"echo : hello\n")

    def test_raw_against_framed_server(self):
        with Server("-p", "framed", "-H", "127.0.0.1", "-P", "0") as srv:
            p = run("connect", "-m", "hello", "127.0.0.1", str(srv.port()))
            self.assertEqual(p.returncode, 1, p.stderr)
            err = p.stderr.decode().splitlines()
            self.assertIn("connection closed by", err[-1])
            self.assertIn("try -p framed", err[-1])
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_framed_against_line_server(self):
        with PyServer("127.0.0.1", line_echo) as srv:
            p = run("connect", "-p", "framed", "--timeout", "0.5", "-m",
                    "hello", "127.0.0.1", str(srv.port))
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"try -p line or -p raw", p.stderr)

    def test_framed_reply_to_raw(self):
        # A length field of exactly the rest, printed by raw: a warning
        # that points at -p framed.
        with PyServer("127.0.0.1", framed_banner) as srv:
            p = run("connect", "--timeout", "0.5", "-m", "x",
                    "127.0.0.1", str(srv.port))
            self.assertIn(b"welcome", p.stdout)
            self.assertIn(b"length field of the rest: try -p framed",
                          p.stderr)

    def test_no_hint_when_it_works(self):
        with Server("-p", "raw", "-H", "127.0.0.1", "-P", "0") as srv:
            p = run("connect", "-m", "hello", "127.0.0.1", str(srv.port()))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn(b"try -p", p.stderr)
            self.assertEqual(srv.stop(), 0, srv.stderr())


if __name__ == "__main__":
    nktest.main()
