"""Socket options (SPEC section 6): set from a config file or with -o, logged
with the value read back at -v, and checked from outside the process: with
iproute2's `ss` (the listening and the accepted socket's buffers, the
keepalive timer) and, where the kernel allows it, by borrowing the server's
accepted socket with pidfd_getfd(2) and reading its options with
getsockopt.  Plus `netkit sockopts` and the error messages."""
import ctypes
import errno
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import unittest

import nktest
from nktest import HOSTS, Server, connect, recv_exact

PREFIX = b">Server echo : "
SS = shutil.which("ss")
NO_SS = "iproute2's ss is not installed"

SPEC_OPTIONS = [
    "SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_BROADCAST",
    "SO_DONTROUTE", "SO_OOBINLINE", "SO_LINGER", "SO_RCVBUF", "SO_SNDBUF",
    "SO_RCVLOWAT", "SO_PRIORITY", "SO_MARK", "SO_BINDTODEVICE",
    "TCP_NODELAY", "TCP_CORK", "TCP_QUICKACK", "TCP_KEEPIDLE",
    "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_USER_TIMEOUT", "TCP_FASTOPEN",
    "TCP_CONGESTION", "TCP_MAXSEG", "TCP_DEFER_ACCEPT", "IP_TOS", "IP_TTL",
    "IPV6_V6ONLY", "IPV6_UNICAST_HOPS", "IPV6_TCLASS", "SO_DONTLINGER",
]

ADDR_RE = re.compile(r"^(\[[^\]]+\]|[0-9.]+|\*):(\d+|\*)$")


def shown(host, port):
    """host:port as netkit and ss write it."""
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def ss(*args):
    """Run `ss -H ARGS`; return one (local, peer, text) per socket, the
    continuation lines of a socket joined to its first line."""
    out = subprocess.run([SS, "-H"] + list(args), capture_output=True,
                         text=True, timeout=nktest.DEADLINE, check=True).stdout
    rows = []
    for line in out.splitlines():
        if line[:1].isspace() and rows:
            rows[-1] += " " + line.strip()
        elif line.strip():
            rows.append(line)
    result = []
    for row in rows:
        addrs = [t for t in row.split() if ADDR_RE.match(t)]
        if len(addrs) >= 2:
            result.append((addrs[0], addrs[1], row))
    return result


def skmem(text):
    """The skmem:(r0,rb131072,...) fields of an ss line, as ints."""
    m = re.search(r"skmem:\(([^)]*)\)", text)
    assert m, text
    return {k: int(v) for k, v in re.findall(r"([a-z_]+)(\d+)", m.group(1))}


def readback(srv, name, host, port, asked):
    """The value netkit logged for option `name` on host:port at -v; the
    "(asked X)" part must be there exactly when it differs from X."""
    pat = re.compile(r"^(?:\S+Z )?\[\*\] Sockopt %s = (\S+)(?: \(asked (\S+)\))? on %s$"
                     % (name, re.escape(shown(host, port))))
    found = [m for m in map(pat.match, srv.stderr().splitlines()) if m]
    assert len(found) == 1, "want one %s line for %s, got:\n%s" % (
        name, shown(host, port), srv.stderr())
    value, was = found[0].groups()
    if value == asked:
        assert was is None, found[0].group(0)
    else:
        assert was == asked, found[0].group(0)
    return value


# --- borrowing the server's socket: pidfd_open(2) + pidfd_getfd(2) --------

_libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture


def server_socket(test, pid, peer):
    """A duplicate of the socket of process `pid` connected to `peer` (the
    client's own address); skips the test where the kernel refuses."""
    if not hasattr(os, "pidfd_open"):
        test.skipTest("os.pidfd_open needs Python 3.9 and Linux 5.3")
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        test.skipTest("pidfd_open: %s" % e)
    try:
        fddir = "/proc/%d/fd" % pid
        for name in os.listdir(fddir):
            try:
                if not os.readlink(os.path.join(fddir, name)).startswith(
                        "socket:"):
                    continue
            except OSError:
                continue
            fd = _libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                e = ctypes.get_errno()
                if e in (errno.EPERM, errno.ENOSYS, errno.EACCES):
                    test.skipTest("pidfd_getfd: %s" % os.strerror(e))
                continue
            s = socket.socket(fileno=fd)
            try:
                if s.type == socket.SOCK_STREAM and \
                        s.getpeername()[:2] == peer[:2]:
                    return s
            except OSError:
                pass
            s.close()
    finally:
        os.close(pidfd)
    test.fail("no socket of netkit is connected to %r" % (peer,))


def has_cap_net_admin():
    """True when this process may set SO_MARK (CAP_NET_ADMIN, bit 12)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 12))
    except (OSError, ValueError, IndexError):
        pass
    return os.geteuid() == 0


def reno_available():
    try:
        with open("/proc/sys/net/ipv4/"
                  "tcp_available_congestion_control") as f:
            return "reno" in f.read().split()
    except OSError:
        return False


def echo(sock, msg=b"x"):
    sock.sendall(msg)
    return recv_exact(sock, len(PREFIX) + len(msg))


class ConfigSockoptsTest(unittest.TestCase):
    """SO_RCVBUF, SO_SNDBUF, TCP_NODELAY and SO_KEEPALIVE from a file."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        path = os.path.join(cls.tmp.name, "sockopts.ini")
        with open(path, "w") as f:
            f.write("[listen.opts]\nproto = raw\nport = 0\n"
                    "sockopt.SO_RCVBUF = 262144\n"
                    "sockopt.SO_SNDBUF = 262144\n"
                    "sockopt.TCP_NODELAY = 1\n"
                    "sockopt.SO_KEEPALIVE = 1\n")
        cls.srv = Server("-c", path, "-v")

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        assert rc == 0, cls.srv.stderr()

    def test_read_back_logged(self):
        # "[*] Sockopt SO_RCVBUF = 524288 (asked 262144) on 127.0.0.1:PORT":
        # the kernel may double a buffer, never shrink it here.
        port = self.srv.port()
        for host in HOSTS:
            with self.subTest(host=host):
                for name in ("SO_RCVBUF", "SO_SNDBUF"):
                    value = int(readback(self.srv, name, host, port,
                                         "262144"))
                    self.assertGreaterEqual(value, 262144)
                for name in ("TCP_NODELAY", "SO_KEEPALIVE"):
                    self.assertEqual(readback(self.srv, name, host, port,
                                              "1"), "1")

    @unittest.skipUnless(SS, NO_SS)
    def test_listening_socket_buffers_seen_by_ss(self):
        # ss -tlnm: the listening socket's rb/tb are what netkit read back.
        port = self.srv.port()
        rows = {local: text for local, _, text in
                ss("-tlnm", "sport = :%d" % port)}
        for host in HOSTS:
            with self.subTest(host=host):
                self.assertIn(shown(host, port), rows)
                mem = skmem(rows[shown(host, port)])
                self.assertEqual(mem["rb"], int(readback(
                    self.srv, "SO_RCVBUF", host, port, "262144")))
                self.assertEqual(mem["tb"], int(readback(
                    self.srv, "SO_SNDBUF", host, port, "262144")))

    @unittest.skipUnless(SS, NO_SS)
    def test_accepted_socket_seen_by_ss(self):
        # ss -tnoem on the accepted socket: a keepalive timer runs
        # (SO_KEEPALIVE) and the receive buffer is the one asked for.
        port = self.srv.port()
        for host in HOSTS:
            with self.subTest(host=host), connect(host, port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                me = shown(host, c.getsockname()[1])
                rows = [text for local, peer, text in
                        ss("-tnoem", "state", "established",
                           "sport = :%d" % port)
                        if local == shown(host, port) and peer == me]
                self.assertEqual(len(rows), 1, rows)
                self.assertRegex(rows[0], r"timer:\(keepalive,")
                self.assertEqual(skmem(rows[0])["rb"], int(readback(
                    self.srv, "SO_RCVBUF", host, port, "262144")))

    def test_accepted_socket_options(self):
        # getsockopt on netkit's own accepted socket: TCP_NODELAY and
        # SO_KEEPALIVE are on, the buffers as asked.
        port = self.srv.port()
        for host in HOSTS:
            with self.subTest(host=host), connect(host, port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                with server_socket(self, self.srv.proc.pid,
                                   c.getsockname()) as s:
                    self.assertNotEqual(s.getsockopt(socket.IPPROTO_TCP,
                                                     socket.TCP_NODELAY), 0)
                    self.assertNotEqual(s.getsockopt(socket.SOL_SOCKET,
                                                     socket.SO_KEEPALIVE), 0)
                    self.assertGreaterEqual(
                        s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                        262144)
                    self.assertGreaterEqual(
                        s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                        262144)


class CommandLineSockoptsTest(unittest.TestCase):
    def test_o_sets_buffers_and_keepalive(self):
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-v",
                    "-o", "SO_RCVBUF=131072",
                    "-o", "SO_KEEPALIVE=1") as srv:
            port = srv.port()
            rb = int(readback(srv, "SO_RCVBUF", "127.0.0.1", port, "131072"))
            self.assertGreaterEqual(rb, 131072)
            self.assertEqual(readback(srv, "SO_KEEPALIVE", "127.0.0.1", port,
                                      "1"), "1")
            if SS:
                rows = {local: text for local, _, text in
                        ss("-tlnm", "sport = :%d" % port)}
                self.assertEqual(skmem(rows[shown("127.0.0.1", port)])["rb"],
                                 rb)
            with connect("127.0.0.1", port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                with server_socket(self, srv.proc.pid, c.getsockname()) as s:
                    self.assertEqual(s.getsockopt(socket.SOL_SOCKET,
                                                  socket.SO_RCVBUF), rb)
                    self.assertNotEqual(s.getsockopt(socket.SOL_SOCKET,
                                                     socket.SO_KEEPALIVE), 0)
            self.assertEqual(srv.stop(), 0)

    def test_o_turns_options_off(self):
        # TCP_NODELAY=0 and SO_KEEPALIVE=0 reach the accepted socket too
        # (netkit's own default for TCP_NODELAY does not win over -o).
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-v",
                    "-o", "TCP_NODELAY=0", "-o", "SO_KEEPALIVE=0") as srv:
            port = srv.port()
            self.assertEqual(readback(srv, "TCP_NODELAY", "127.0.0.1", port,
                                      "0"), "0")
            with connect("127.0.0.1", port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                if SS:
                    rows = [text for _, peer, text in
                            ss("-tnoe", "state", "established",
                               "sport = :%d" % port)
                            if peer == shown("127.0.0.1", c.getsockname()[1])]
                    self.assertEqual(len(rows), 1, rows)
                    self.assertNotIn("keepalive", rows[0])
                with server_socket(self, srv.proc.pid, c.getsockname()) as s:
                    self.assertEqual(s.getsockopt(socket.IPPROTO_TCP,
                                                  socket.TCP_NODELAY), 0)
                    self.assertEqual(s.getsockopt(socket.SOL_SOCKET,
                                                  socket.SO_KEEPALIVE), 0)
            self.assertEqual(srv.stop(), 0)

    def test_linger(self):
        # SO_LINGER=1,5 is logged as read back and is on the accepted socket.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-v",
                    "-o", "SO_LINGER=1,5") as srv:
            port = srv.port()
            self.assertEqual(readback(srv, "SO_LINGER", "127.0.0.1", port,
                                      "1,5"), "1,5")
            with connect("127.0.0.1", port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                with server_socket(self, srv.proc.pid, c.getsockname()) as s:
                    onoff, secs = struct.unpack("ii", s.getsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, 8))
                    self.assertEqual((onoff, secs), (1, 5))
            self.assertEqual(srv.stop(), 0)

    def test_dontlinger(self):
        # SO_DONTLINGER (the Windows name) is SO_LINGER off.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-v",
                    "-o", "SO_DONTLINGER=1") as srv:
            port = srv.port()
            self.assertEqual(readback(srv, "SO_DONTLINGER", "127.0.0.1",
                                      port, "1"), "1")
            with connect("127.0.0.1", port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                with server_socket(self, srv.proc.pid, c.getsockname()) as s:
                    onoff, _ = struct.unpack("ii", s.getsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, 8))
                    self.assertEqual(onoff, 0)
            self.assertEqual(srv.stop(), 0)

    def test_ip_level_options(self):
        # A few IPPROTO_IP / IPPROTO_TCP options, read back as set.
        opts = {"IP_TTL": "33", "IP_TOS": "16", "TCP_KEEPIDLE": "77",
                "TCP_KEEPCNT": "4"}
        args = []
        for k, v in opts.items():
            args += ["-o", "%s=%s" % (k, v)]
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-v",
                    *args) as srv:
            port = srv.port()
            for k, v in opts.items():
                with self.subTest(option=k):
                    self.assertEqual(readback(srv, k, "127.0.0.1", port, v), v)
            with connect("127.0.0.1", port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                with server_socket(self, srv.proc.pid, c.getsockname()) as s:
                    self.assertEqual(s.getsockopt(socket.IPPROTO_IP,
                                                  socket.IP_TTL), 33)
                    self.assertEqual(s.getsockopt(socket.IPPROTO_TCP,
                                                  socket.TCP_KEEPIDLE), 77)
                    self.assertEqual(s.getsockopt(socket.IPPROTO_TCP,
                                                  socket.TCP_KEEPCNT), 4)
            self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless("::1" in HOSTS, "this machine cannot bind ::1")
    def test_ipv6_level_options(self):
        with Server("-p", "raw", "-P", "0", "-H", "::1", "-v",
                    "-o", "IPV6_TCLASS=32",
                    "-o", "IPV6_UNICAST_HOPS=9") as srv:
            port = srv.port()
            self.assertEqual(readback(srv, "IPV6_TCLASS", "::1", port, "32"),
                             "32")
            self.assertEqual(readback(srv, "IPV6_UNICAST_HOPS", "::1", port,
                                      "9"), "9")
            with connect("::1", port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                with server_socket(self, srv.proc.pid, c.getsockname()) as s:
                    self.assertEqual(s.getsockopt(socket.IPPROTO_IPV6,
                                                  socket.IPV6_UNICAST_HOPS),
                                     9)
            self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless(reno_available(), "reno is not available here")
    def test_congestion_control(self):
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-v",
                    "-o", "TCP_CONGESTION=reno") as srv:
            port = srv.port()
            self.assertEqual(readback(srv, "TCP_CONGESTION", "127.0.0.1",
                                      port, "reno"), "reno")
            with connect("127.0.0.1", port) as c:
                self.assertEqual(echo(c), PREFIX + b"x")
                if SS:
                    rows = [text for _, peer, text in
                            ss("-tni", "state", "established",
                               "sport = :%d" % port)
                            if peer == shown("127.0.0.1", c.getsockname()[1])]
                    self.assertEqual(len(rows), 1, rows)
                    self.assertRegex(rows[0], r"\breno\b")
            self.assertEqual(srv.stop(), 0)

    def test_udp_buffer(self):
        # Buffers apply to UDP sockets too; ss -ulnm agrees.
        with Server("-p", "raw", "-u", "-P", "0", "-v",
                    "-o", "SO_RCVBUF=262144") as srv:
            port = srv.port("udp")
            for host in HOSTS:
                with self.subTest(host=host):
                    rb = int(readback(srv, "SO_RCVBUF", host, port, "262144"))
                    self.assertGreaterEqual(rb, 262144)
                    if SS:
                        rows = {local: text for local, _, text in
                                ss("-ulnm", "sport = :%d" % port)}
                        self.assertEqual(skmem(rows[shown(host, port)])["rb"],
                                         rb)
            self.assertEqual(srv.stop(), 0)

    def test_o_overrides_the_file(self):
        # -o SO_RCVBUF replaces the file's sockopt.SO_RCVBUF: one value is
        # asked for, one read-back logged, and the socket has it.
        with nktest.config_file("[listen.a]\nhost = 127.0.0.1\nport = 0\n"
                                "sockopt.SO_RCVBUF = 262144\n",
                                name="rcvbuf.ini") as path:
            with Server("-c", path, "-v", "-o", "SO_RCVBUF=131072") as srv:
                port = srv.port()
                rb = int(readback(srv, "SO_RCVBUF", "127.0.0.1", port,
                                  "131072"))
                self.assertGreaterEqual(rb, 131072)
                self.assertLess(rb, 262144 * 2)
                if SS:
                    rows = {local: text for local, _, text in
                            ss("-tlnm", "sport = :%d" % port)}
                    self.assertEqual(
                        skmem(rows[shown("127.0.0.1", port)])["rb"], rb)
                self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless(reno_available(), "reno is not available here")
    def test_o_overrides_a_value_the_kernel_refuses(self):
        # The file asks for an algorithm the kernel lacks; -o replaces it
        # with one it has, so the file's value is never tried.
        with nktest.config_file("[listen.a]\nhost = 127.0.0.1\nport = 0\n"
                                "sockopt.TCP_CONGESTION = no_such_algo\n",
                                name="cc.ini") as path:
            with Server("-c", path, "-v", "-o", "TCP_CONGESTION=reno") as srv:
                self.assertEqual(readback(srv, "TCP_CONGESTION", "127.0.0.1",
                                          srv.port(), "reno"), "reno")
                self.assertEqual(srv.stop(), 0)


class ListingTest(unittest.TestCase):
    def test_every_spec_option_listed(self):
        r = nktest.run("sockopts")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"")
        rows = {line.split()[0]: line for line in
                r.stdout.decode().splitlines() if line.strip()}
        for name in SPEC_OPTIONS:
            with self.subTest(option=name):
                self.assertIn(name, rows)
                self.assertNotIn("not supported", rows[name])
        self.assertIn("SO_GROUP_PRIORITY", rows)
        self.assertIn("not supported on this system",
                      rows["SO_GROUP_PRIORITY"])

    def test_listing_shows_level_and_sockets(self):
        # Level, value type and socket types of a few well-known options.
        out = nktest.run("sockopts").stdout.decode()
        self.assertRegex(out, r"(?m)^TCP_NODELAY +IPPROTO_TCP +bool +tcp ")
        self.assertRegex(out, r"(?m)^SO_RCVBUF +SOL_SOCKET +int\b.* tcp\+udp ")
        self.assertRegex(out, r"(?m)^SO_LINGER +SOL_SOCKET +on,seconds +tcp ")
        self.assertRegex(out, r"(?m)^IPV6_V6ONLY +IPPROTO_IPV6 +bool ")


class ErrorsTest(unittest.TestCase):
    def fails(self, status, *args):
        r = nktest.run("serve", "-P", "0", "-H", "127.0.0.1", *args)
        self.assertEqual(r.returncode, status, r.stderr)
        self.assertEqual(r.stdout, b"")
        return r.stderr.decode()

    def test_unknown_option(self):
        self.assertEqual(self.fails(2, "-o", "SO_REUSEADR=1"),
                         "netkit: -o SO_REUSEADR=1: unknown socket option "
                         "'SO_REUSEADR' (did you mean SO_REUSEADDR?)\n")

    def test_tcp_option_on_udp(self):
        self.assertEqual(self.fails(2, "-o", "TCP_NODELAY=1", "-u"),
                         "netkit: -o TCP_NODELAY=1: socket option TCP_NODELAY "
                         "does not apply to udp sockets\n")

    def test_option_of_another_system(self):
        self.assertEqual(self.fails(2, "-o", "SO_GROUP_PRIORITY=1"),
                         "netkit: -o SO_GROUP_PRIORITY=1: socket option "
                         "SO_GROUP_PRIORITY is not supported on this system\n")

    def test_bad_values(self):
        self.assertEqual(self.fails(2, "-o", "SO_RCVBUF=abc"),
                         "netkit: -o SO_RCVBUF=abc: socket option SO_RCVBUF: "
                         "invalid number 'abc'\n")
        self.assertEqual(self.fails(2, "-o", "SO_LINGER=1"),
                         "netkit: -o SO_LINGER=1: socket option SO_LINGER: "
                         "expected on,seconds (e.g. 1,5) or 0\n")
        self.assertEqual(self.fails(2, "-o", "SO_REUSEADDR"),
                         "netkit: option -o/--sockopt: expected NAME=VALUE, "
                         "e.g. -o SO_RCVBUF=262144\n")

    def test_out_of_range(self):
        err = self.fails(2, "-o", "IP_TTL=300")
        self.assertTrue(err.startswith("netkit: -o IP_TTL=300: "), err)
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_kernel_refusal(self):
        # The kernel has no such algorithm: exit 1, one line naming the
        # option, the address and the kernel's reason.
        err = self.fails(1, "-o", "TCP_CONGESTION=no_such_algo")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r"^netkit: .*TCP_CONGESTION.*\n$")
        self.assertIn("No such file or directory", err)
        self.assertIn("127.0.0.1", err)

    def test_kernel_refusal_names_file_and_line(self):
        # From a config file, the refusal also names the file and the line
        # of the sockopt key (SPEC section 3: "names what is wrong and where
        # (option, file and line)").
        with nktest.config_file("[listen.a]\nhost = 127.0.0.1\nport = 0\n"
                                "sockopt.TCP_CONGESTION = no_such_algo\n",
                                name="cc.ini") as path:
            r = nktest.run("serve", "-c", path)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 1, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r"^netkit: %s:4: .*TCP_CONGESTION.*\n$"
                         % re.escape(path))
        self.assertIn("No such file or directory", err)

    @unittest.skipIf(has_cap_net_admin(),
                     "running with CAP_NET_ADMIN: SO_MARK is allowed")
    def test_mark_without_capability(self):
        err = self.fails(1, "-o", "SO_MARK=1")
        self.assertRegex(err, r"^netkit: .*SO_MARK.*Operation not permitted"
                              r".*\n$")


if __name__ == "__main__":
    nktest.main()
