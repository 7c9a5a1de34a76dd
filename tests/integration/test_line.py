"""`netkit serve -p line` and `netkit connect -p line` against the real
binary: lines in any pieces, LF or CRLF, an over-long line, UDP, and the
clients a user of a line server has at hand (Python's socket.makefile(), a
line server written the tutorial way).  Every case that talks to the server
runs on 127.0.0.1 and ::1 (where the machine has IPv6).  Readiness is always
waited for with a deadline, never with a sleep."""
import re
import socket
import threading
import unittest

import nktest
from nktest import DEADLINE, HOSTS, Server, connect, family_of, recv_exact, run

PREFIX = b"echo : "
MAX_LINE = 64 * 1024  # the default max_line
TOO_BIG = re.compile(r"over the limit|frame larger than the allowed maximum")


def recv_until_closed(sock):
    """Everything the peer sends until it closes (a reset counts as a
    close: the server closed with our bytes unread)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def send_ignoring_close(sock, data):
    """Send data; the server may close before it has all of it."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def udp(host):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(DEADLINE)
    return s


class LineTcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-p", "line", "-P", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_listens_on_every_host(self):
        self.assertEqual(sorted(a for a, _, _ in self.srv.addrs()),
                         sorted(HOSTS))
        self.assertTrue(all(l[3] == "line" for l in self.srv.listens))

    def test_several_lines_in_one_write(self):
        # Five lines in one segment, LF and CRLF and an empty one, are five
        # replies in order, each ending with "\n".
        for host in HOSTS:
            with self.subTest(host=host), connect(host, self.srv.port()) as s:
                s.sendall(b"one\ntwo\r\n\nthree\nfour\r\n")
                want = b"".join(PREFIX + w + b"\n"
                                for w in (b"one", b"two", b"", b"three",
                                          b"four"))
                self.assertEqual(recv_exact(s, len(want)), want)

    def test_one_byte_at_a_time(self):
        # A line dripped one byte a write, "\r" and "\n" apart, is one line.
        for host in HOSTS:
            with self.subTest(host=host), connect(host, self.srv.port()) as s:
                for b in b"drip\r\nnext\n":
                    s.send(bytes([b]))
                self.assertEqual(recv_exact(s, 24),
                                 PREFIX + b"drip\n" + PREFIX + b"next\n")

    def test_crlf_client(self):
        # A CRLF client (telnet, most text protocols): the "\r" is part of
        # the terminator; a "\r" elsewhere is part of the line.
        for host in HOSTS:
            with self.subTest(host=host), connect(host, self.srv.port()) as s:
                s.sendall(b"hello\r\n")
                self.assertEqual(recv_exact(s, 13), PREFIX + b"hello\n")
                s.sendall(b"a\rb\r\n\r\n")
                self.assertEqual(recv_exact(s, 19),
                                 PREFIX + b"a\rb\n" + PREFIX + b"\n")

    def test_makefile_line_client(self):
        # The everyday Python line client: makefile(), write a line, readline.
        for host in HOSTS:
            with self.subTest(host=host), connect(host, self.srv.port()) as s, \
                    s.makefile("rwb") as f:
                for i in range(50):
                    f.write(b"line %d\n" % i)
                    f.flush()
                    self.assertEqual(f.readline(), PREFIX + b"line %d\n" % i)
                f.write(b"exit\n")
                f.flush()
                self.assertEqual(f.readline(), b"")  # closed, no reply

    def test_exit_closes(self):
        # `exit` (LF or CRLF) closes without a reply; what follows it is
        # not answered.
        for word in (b"exit\n", b"exit\r\n"):
            with self.subTest(word=word), \
                    connect("127.0.0.1", self.srv.port()) as s:
                s.sendall(b"hi\n" + word + b"after\n")
                self.assertEqual(recv_until_closed(s), PREFIX + b"hi\n")

    def test_longest_line_served(self):
        # A line of exactly max_line bytes (64 KiB), with either terminator.
        line = bytes(range(32, 127)) * (MAX_LINE // 95) + b"x" * (MAX_LINE % 95)
        self.assertEqual(len(line), MAX_LINE)
        with connect("127.0.0.1", self.srv.port()) as s:
            for eol in (b"\n", b"\r\n"):
                s.sendall(line + eol)
                self.assertEqual(recv_exact(s, 7 + MAX_LINE + 1),
                                 PREFIX + line + b"\n")

    def test_overlong_line_closes_only_that_connection(self):
        # One byte over max_line closes that connection, whether its "\n"
        # comes with it or never comes, is logged, and another client is
        # served all along.
        port = self.srv.port()
        for host in HOSTS:
            for tail in (b"\n", b"y" * MAX_LINE):
                with self.subTest(host=host, tail=tail[:1]), \
                        connect(host, port) as good, \
                        connect(host, port) as bad:
                    good.sendall(b"before\n")
                    self.assertEqual(recv_exact(good, 14),
                                     PREFIX + b"before\n")
                    start = len(self.srv.lines)
                    send_ignoring_close(bad, b"ok\n" + b"x" * (MAX_LINE + 1)
                                        + tail)
                    # The line before it is answered, then the close.
                    self.assertEqual(recv_until_closed(bad), PREFIX + b"ok\n")
                    self.srv.wait_for(TOO_BIG, start=start)
                    good.sendall(b"still here\n")
                    self.assertEqual(recv_exact(good, 18),
                                     PREFIX + b"still here\n")

    def test_concurrent_clients(self):
        # 20 clients at once, each on its own thread, each answered right.
        def client(i):
            host = HOSTS[i % len(HOSTS)]
            with connect(host, self.srv.port()) as s, s.makefile("rwb") as f:
                f.write(b"client %d\n" % i)
                f.flush()
                return f.readline() == PREFIX + b"client %d\n" % i

        self.assertEqual(nktest.concurrently(20, client),
                         {i: True for i in range(20)})


class LineOptionsTest(unittest.TestCase):
    def test_max_line_and_eol(self):
        # -O max_line=8: 8 bytes pass, 9 close the connection (logged);
        # -O eol=crlf: replies end with "\r\n"; -O prefix sets the prefix.
        with Server("-p", "line", "-P", "0", "-H", "127.0.0.1",
                    "-O", "max_line=8", "-O", "eol=crlf",
                    "-O", "prefix=> ") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"12345678\n12345678\r\n")
                self.assertEqual(recv_exact(s, 24),
                                 b"> 12345678\r\n" * 2)
                s.sendall(b"123456789\n")
                self.assertEqual(recv_until_closed(s), b"")
            srv.wait_for(TOO_BIG)
            self.assertEqual(srv.stop(), 0)

    def test_exit_word_disabled(self):
        # exit_word= makes `exit` a line like any other.
        with Server("-p", "line", "-P", "0", "-H", "127.0.0.1",
                    "-O", "exit_word=") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"exit\n")
                self.assertEqual(recv_exact(s, 12), PREFIX + b"exit\n")
            self.assertEqual(srv.stop(), 0)

    def test_newline_in_prefix_refused(self):
        # A prefix with a newline would make each reply two lines: refused
        # at start-up, one line, status 2.
        r = run("serve", "-p", "line", "-P", "0", "-O", "prefix=a\nb")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(),
                         "netkit: plugin line: prefix must not hold a newline "
                         "(a reply is one line)\n")

    def test_bad_values_refused(self):
        for opt in ("max_line=0", "max_line=2M", "eol=cr"):
            with self.subTest(opt=opt):
                r = run("serve", "-p", "line", "-P", "0", "-O", opt)
                self.assertEqual(r.returncode, 2)
                self.assertTrue(r.stderr.decode().startswith(
                    "netkit: -O %s: " % opt), r.stderr)

    def test_plugins_listing(self):
        r = run("plugins")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"line +1\.0\.0 +tcp,udp")
        r = run("plugins", "line")
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        for opt, default in (("prefix", '"echo : "'), ("max_line", "64k"),
                             ("eol", "lf"), ("exit_word", '"exit"')):
            self.assertRegex(out, r"(?m)^%s .* %s " % (opt, re.escape(default)))


class LineUdpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # -v: every dropped datagram is logged, not only the first.
        cls.srv = Server("-p", "line", "-u", "-P", "0", "-O", "max_line=8",
                         "-v")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_datagram_is_one_line(self):
        # With or without its "\n" (nc -u sends one), a datagram is one
        # line, answered with one datagram ending with "\n"; `exit` too.
        port = self.srv.port("udp")
        cases = [(b"hello\n", b"hello"), (b"hello", b"hello"),
                 (b"hello\r\n", b"hello"), (b"\n", b""), (b"", b""),
                 (b"a\nb\n", b"a\nb"), (b"exit\n", b"exit")]
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                for sent, line in cases:
                    s.sendto(sent, (host, port))
                    reply, addr = s.recvfrom(1 << 16)
                    self.assertEqual(reply, PREFIX + line + b"\n")
                    self.assertEqual(addr[:2], (host, port))

    def test_overlong_datagram_dropped(self):
        # Over max_line (8 here) a datagram is dropped and logged; the
        # next one is answered.
        port = self.srv.port("udp")
        for host in HOSTS:
            with self.subTest(host=host), udp(host) as s:
                start = len(self.srv.lines)
                s.sendto(b"123456789\n", (host, port))
                self.srv.wait_for("Dropped a datagram of 10 bytes",
                                  start=start)
                s.sendto(b"12345678\n", (host, port))
                self.assertEqual(s.recv(1 << 16), PREFIX + b"12345678\n")


def line_server(host):
    """A line server written the tutorial way (bind, listen, accept, a
    thread per client, makefile); returns (socket, port)."""
    ls = socket.socket(family_of(host), socket.SOCK_STREAM)
    ls.bind((host, 0))
    ls.listen()

    def serve(conn):
        with conn, conn.makefile("rwb") as f:
            for line in f:
                f.write(b"got: " + line.rstrip(b"\r\n") + b"\r\n")
                f.flush()

    def accept():
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls, ls.getsockname()[1]


class LineConnectTest(unittest.TestCase):
    def test_connect_message(self):
        # netkit connect -p line -m hello prints the reply, over TCP and UDP.
        for host in HOSTS:
            for udp_flag in ([], ["-u"]):
                with self.subTest(host=host, udp=udp_flag), \
                        Server("-p", "line", "-H", host, "-P", "0",
                               *udp_flag) as srv:
                    port = srv.port("udp" if udp_flag else "tcp")
                    p = run("connect", "-p", "line", *udp_flag, "-m", "hello",
                            "-n", "2", host, str(port))
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(p.stdout, (PREFIX + b"hello\n") * 2)
                    self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_connect_lines_and_exit(self):
        # Lines from standard input, each answered; `exit` closes the
        # connection (the server does), the normal end, status 0.
        with Server("-p", "line", "-H", "127.0.0.1", "-P", "0") as srv:
            p = run("connect", "-p", "line", "127.0.0.1", str(srv.port()),
                    input=b"hello\nworld\r\n\nexit\nafter\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, PREFIX + b"hello\n" + PREFIX +
                             b"world\n" + PREFIX + b"\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_connect_to_other_line_server(self):
        # Against a line server netkit did not write, which ends its lines
        # with "\r\n": the codec finds each reply's end and prints it.
        for host in HOSTS:
            with self.subTest(host=host):
                ls, port = line_server(host)
                try:
                    p = run("connect", "-p", "line", host, str(port),
                            input=b"one\ntwo\n")
                finally:
                    ls.shutdown(socket.SHUT_RDWR)  # wakes the accept thread
                    ls.close()
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, b"got: one\ngot: two\n")


if __name__ == "__main__":
    nktest.main()
