"""`netkit serve -c FILE` (SPEC section 5): several listeners from one file,
TCP and UDP at once, each answered by its own plugin with its [plugin.*]
options; the command line replacing the listeners but keeping the plugin
settings; -O over [plugin.*]; $NETKIT_CONFIG; and every bad config as one
`netkit: FILE:LINE: ...` line with exit status 2.  Config files are written
to a temporary directory and always use port 0."""
import glob
import os
import re
import socket
import struct
import subprocess
import tempfile
import unittest

import nktest
from nktest import HOSTS, Server, connect, frame, recv_exact, recv_frame

MULTI = """\
; three listeners: framed TCP, raw UDP, raw TCP
[netkit]
log_level = info

[listen.framed-tcp]
proto = framed
port = 0
transport = tcp
sockopt.TCP_NODELAY = 1

[listen.raw-udp]
proto = raw
port = 0
transport = udp
sockopt.SO_RCVBUF = 262144

[listen.raw-tcp]
proto = raw
port = 0
transport = tcp
max_conns = 256

[plugin.raw]
prefix = "raw: "
exit_word = quit

[plugin.framed]
prefix = "F> "
max_frame = 64k
"""


write = nktest.write


def run_in_srcdir(*args, env=None):
    """`netkit ARGS...` to completion with the repository as cwd."""
    full_env = dict(os.environ)
    full_env.pop("NETKIT_CONFIG", None)
    full_env.update(env or {})
    return subprocess.run([nktest.NETKIT] + list(args), cwd=nktest.SRCDIR,
                          capture_output=True, timeout=nktest.DEADLINE,
                          env=full_env)


def listeners(srv):
    """{(transport, proto): (port, [addresses])} from the Listen lines."""
    out = {}
    for addr, port, transport, proto in srv.listens:
        port_, addrs = out.setdefault((transport, proto), (int(port), []))
        assert port_ == int(port), srv.stderr()
        addrs.append(addr.strip("[]"))
    return out


def udp_ask(host, port, data):
    with socket.socket(nktest.family_of(host), socket.SOCK_DGRAM) as s:
        s.settimeout(nktest.DEADLINE)
        s.sendto(data, (host, port))
        return s.recv(1 << 16)


class MultiListenerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = write(cls.tmp.name, "multi.ini", MULTI)
        cls.srv = Server("-c", cls.path)
        cls.ls = listeners(cls.srv)

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        cls.tmp.cleanup()
        assert rc == 0, cls.srv.stderr()

    def test_three_listeners(self):
        # Every [listen.*] section is served, each on its own port and on
        # every loopback address.
        self.assertEqual(set(self.ls), {("tcp", "framed"), ("udp", "raw"),
                                        ("tcp", "raw")})
        for key, (port, addrs) in self.ls.items():
            with self.subTest(listener=key):
                self.assertNotEqual(port, 0)
                self.assertEqual(sorted(addrs), sorted(HOSTS))
        self.assertNotEqual(self.ls["tcp", "framed"][0],
                            self.ls["tcp", "raw"][0])

    def test_framed_tcp_uses_its_plugin_section(self):
        port = self.ls["tcp", "framed"][0]
        for host in HOSTS:
            with self.subTest(host=host), connect(host, port) as s:
                s.sendall(frame(b"hello"))
                self.assertEqual(recv_frame(s), b"F> hello")

    def test_framed_max_frame_from_file(self):
        # max_frame = 64k: 65536 bytes pass, 65537 close the connection.
        port = self.ls["tcp", "framed"][0]
        with connect("127.0.0.1", port) as s:
            s.sendall(frame(b"x" * 65536))
            self.assertEqual(recv_frame(s), b"F> " + b"x" * 65536)
            s.sendall(struct.pack("<I", 65537))
            self.assertEqual(s.recv(10), b"")

    def test_raw_udp(self):
        # The raw UDP listener answers with [plugin.raw]'s prefix, and its
        # exit word is just data over UDP.
        port = self.ls["udp", "raw"][0]
        for host in HOSTS:
            with self.subTest(host=host):
                self.assertEqual(udp_ask(host, port, b"hello"),
                                 b"raw: hello")
                self.assertEqual(udp_ask(host, port, b"quit"), b"raw: quit")

    def test_raw_tcp_exit_word_from_file(self):
        # exit_word = quit: "exit" is echoed, "quit" closes.
        port = self.ls["tcp", "raw"][0]
        for host in HOSTS:
            with self.subTest(host=host), connect(host, port) as s:
                s.sendall(b"exit")
                self.assertEqual(recv_exact(s, 9), b"raw: exit")
                s.sendall(b"quit\n")
                self.assertEqual(s.recv(100), b"")

    def test_tcp_and_udp_at_once(self):
        # Connections to both TCP listeners stay open while UDP is served.
        fport = self.ls["tcp", "framed"][0]
        rport = self.ls["tcp", "raw"][0]
        uport = self.ls["udp", "raw"][0]
        with connect("127.0.0.1", fport) as f, \
                connect("127.0.0.1", rport) as r:
            for i in range(5):
                f.sendall(frame(b"f%d" % i))
                r.sendall(b"r%d" % i)
                self.assertEqual(udp_ask("127.0.0.1", uport, b"u%d" % i),
                                 b"raw: u%d" % i)
                self.assertEqual(recv_frame(f), b"F> f%d" % i)
                self.assertEqual(recv_exact(r, 7), b"raw: r%d" % i)


class CommandLineOverTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = write(self.tmp.name, "multi.ini", MULTI)

    def test_listener_flags_replace_listeners(self):
        # -p/-P/-H define the one listener; [plugin.framed] still applies.
        with Server("-c", self.path, "-p", "framed", "-P", "0",
                    "-H", "127.0.0.1") as srv:
            self.assertEqual(srv.addrs(), [("127.0.0.1", srv.port(), "tcp")])
            self.assertEqual(listeners(srv), {("tcp", "framed"):
                                              (srv.port(), ["127.0.0.1"])})
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"cli"))
                self.assertEqual(recv_frame(s), b"F> cli")
            self.assertEqual(srv.stop(), 0)

    def test_port_alone_replaces_listeners(self):
        # Even -P alone: one raw TCP listener on localhost, with the file's
        # [plugin.raw] prefix and exit word.
        with Server("-c", self.path, "-P", "0") as srv:
            self.assertEqual(listeners(srv),
                             {("tcp", "raw"): (srv.port(), HOSTS)})
            for host in HOSTS:
                with self.subTest(host=host), connect(host, srv.port()) as s:
                    s.sendall(b"hi")
                    self.assertEqual(recv_exact(s, 7), b"raw: hi")
                    s.sendall(b"quit")
                    self.assertEqual(s.recv(100), b"")
            self.assertEqual(srv.stop(), 0)

    def test_udp_flag_keeps_plugin_section(self):
        with Server("-c", self.path, "-u", "-P", "0",
                    "-H", "127.0.0.1") as srv:
            self.assertEqual(srv.addrs(),
                             [("127.0.0.1", srv.port("udp"), "udp")])
            self.assertEqual(udp_ask("127.0.0.1", srv.port("udp"), b"dg"),
                             b"raw: dg")
            self.assertEqual(srv.stop(), 0)

    def test_plugin_opt_overrides_file(self):
        # -O prefix wins over [plugin.framed] prefix; the file's max_frame
        # (64k) still holds.
        with Server("-c", self.path, "-p", "framed", "-P", "0",
                    "-H", "127.0.0.1", "-O", "prefix=O> ") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"hi"))
                self.assertEqual(recv_frame(s), b"O> hi")
                s.sendall(struct.pack("<I", 65537))
                self.assertEqual(s.recv(10), b"")
            self.assertEqual(srv.stop(), 0)

    def test_plugin_opt_applies_to_file_listeners(self):
        # Without listener flags, -O changes the plugin for every listener
        # of the file that uses it.
        with Server("-c", self.path, "-O", "prefix=all ") as srv:
            ls = listeners(srv)
            with connect("127.0.0.1", ls["tcp", "raw"][0]) as s:
                s.sendall(b"t")
                self.assertEqual(recv_exact(s, 5), b"all t")
            self.assertEqual(udp_ask("127.0.0.1", ls["udp", "raw"][0], b"u"),
                             b"all u")
            # framed has a prefix option too: -O applies to it as well.
            with connect("127.0.0.1", ls["tcp", "framed"][0]) as s:
                s.sendall(frame(b"f"))
                self.assertEqual(recv_frame(s), b"all f")
            self.assertEqual(srv.stop(), 0)

    def test_plugin_opt_only_for_plugins_that_have_it(self):
        # -O exit_word (raw only) does not trouble the framed listener; an
        # option no plugin in use has is an error.
        with Server("-c", self.path, "-O", "exit_word=bye") as srv:
            ls = listeners(srv)
            with connect("127.0.0.1", ls["tcp", "raw"][0]) as s:
                s.sendall(b"quit")
                self.assertEqual(recv_exact(s, 9), b"raw: quit")
                s.sendall(b"bye")
                self.assertEqual(s.recv(10), b"")
            with connect("127.0.0.1", ls["tcp", "framed"][0]) as s:
                s.sendall(frame(b"bye"))
                self.assertEqual(recv_frame(s), b"F> bye")
            self.assertEqual(srv.stop(), 0)
        r = nktest.run("serve", "-c", self.path, "-O", "nosuch=1")
        self.assertEqual(r.returncode, 2)
        err = r.stderr.decode()
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("netkit: -O nosuch"), err)
        self.assertIn("no option 'nosuch'", err)


class EnvironmentTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.path = write(self.tmp.name, "multi.ini", MULTI)

    def test_netkit_config_is_read_without_c(self):
        with Server(env={"NETKIT_CONFIG": self.path}) as srv:
            self.assertEqual(set(listeners(srv)),
                             {("tcp", "framed"), ("udp", "raw"),
                              ("tcp", "raw")})
            self.assertEqual(srv.stop(), 0)

    def test_netkit_config_with_listener_flags(self):
        # $NETKIT_CONFIG's [plugin.*] apply to a command-line listener.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    env={"NETKIT_CONFIG": self.path}) as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"env"))
                self.assertEqual(recv_frame(s), b"F> env")
            self.assertEqual(srv.stop(), 0)

    def test_c_wins_over_netkit_config(self):
        bad = write(self.tmp.name, "bad.ini", "[nonsense]\n")
        with Server("-c", self.path, "-p", "framed", "-P", "0",
                    "-H", "127.0.0.1", env={"NETKIT_CONFIG": bad}) as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"c"))
                self.assertEqual(recv_frame(s), b"F> c")
            self.assertEqual(srv.stop(), 0)

    def test_bad_netkit_config_is_an_error(self):
        bad = write(self.tmp.name, "bad.ini",
                    "[listen.x]\nport = 0\nprot = raw\n")
        r = nktest.run("serve", env={"NETKIT_CONFIG": bad})
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(),
                         "netkit: %s:3: unknown key 'prot' in [listen.x] "
                         "(did you mean proto?)\n" % bad)

    def test_missing_netkit_config_is_an_error(self):
        missing = os.path.join(self.tmp.name, "missing.ini")
        r = nktest.run("serve", "-P", "0", env={"NETKIT_CONFIG": missing})
        self.assertEqual(r.returncode, 2)
        # The message says where the file name came from.
        self.assertEqual(r.stderr.decode(),
                         "netkit: $NETKIT_CONFIG: cannot open %s: No such "
                         "file or directory\n" % missing)

    def test_missing_c_file_is_an_error(self):
        missing = os.path.join(self.tmp.name, "missing.ini")
        r = nktest.run("serve", "-P", "0", "-c", missing)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(),
                         "netkit: cannot open %s: No such file or directory\n"
                         % missing)


class BadConfigTest(unittest.TestCase):
    def test_golden_bad_configs(self):
        # Every tests/conf/bad/NAME.ini: exit 2 and exactly one stderr line,
        # "netkit: " + NAME.err.
        names = sorted(glob.glob(os.path.join(nktest.SRCDIR, "tests", "conf",
                                              "bad", "*.ini")))
        self.assertGreater(len(names), 0)
        for path in names:
            name = os.path.basename(path)[:-len(".ini")]
            with self.subTest(name=name):
                with open(path[:-len(".ini")] + ".err") as f:
                    want = f.read().rstrip("\n")
                r = run_in_srcdir("serve", "-c",
                                  "tests/conf/bad/%s.ini" % name)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr.decode("utf-8", "replace"),
                                 "netkit: " + want + "\n")
                self.assertEqual(r.stdout, b"")

    def check(self, text, want, status=2, args=()):
        """Write `text` as a config; serve it; expect one stderr line.
        `want` is a regex (fullmatch) with {file} for the config's path."""
        with tempfile.TemporaryDirectory() as d:
            path = write(d, "bad.ini", text)
            r = nktest.run("serve", "-c", path, *args)
            err = r.stderr.decode()
            self.assertEqual(r.returncode, status, err)
            self.assertRegex(err, "^" + want.format(file=re.escape(path))
                             + "\n$")

    def test_unknown_plugin_option(self):
        self.check("[plugin.framed]\nprefx = 1\n",
                   r"netkit: {file}:2: \[plugin\.framed\] unknown option "
                   r"'prefx' \(did you mean prefix\?\)",
                   args=("-p", "framed", "-P", "0", "-H", "127.0.0.1"))

    def test_unknown_plugin_option_of_unused_plugin(self):
        # A [plugin.raw] typo is an error even when only framed is served.
        self.check("[plugin.raw]\nexit_wrd = bye\n",
                   r"netkit: {file}:2: \[plugin\.raw\] unknown option "
                   r"'exit_wrd' \(did you mean exit_word\?\)",
                   args=("-p", "framed", "-P", "0", "-H", "127.0.0.1"))

    def test_bad_plugin_value(self):
        self.check("[plugin.framed]\nprefix = x\nmax_frame = 1X\n",
                   r"netkit: {file}:3: \[plugin\.framed\] max_frame: "
                   r"invalid size '1X' \(a number, optionally followed by "
                   r"k, M or G\)", args=("-p", "framed", "-P", "0", "-H", "127.0.0.1"))

    def test_bad_plugin_enum(self):
        self.check("[plugin.framed]\nlength_bytes = 3\n",
                   r"netkit: {file}:2: \[plugin\.framed\] length_bytes: .*",
                   args=("-p", "framed", "-P", "0", "-H", "127.0.0.1"))

    def test_unknown_proto_in_listener(self):
        # The error names the file and the line of the [listen.a] section.
        self.check("[netkit]\nworkers = 1\n\n[listen.a]\nport = 0\n"
                   "proto = nosuch\n",
                   r"netkit: {file}:4: plugin 'nosuch' not found "
                   r"\(looked in: .*\)")

    def test_unresolvable_host(self):
        # A host that does not resolve names the listener and its section's
        # line; it is a run-time failure (the resolver said no): status 1.
        self.check("[listen.a]\nport = 0\nhost = nosuch.invalid\n",
                   r"netkit: {file}:1: \[listen\.a\] host: cannot resolve "
                   r"'nosuch\.invalid': .+", status=1)

    def test_unknown_plugin_section(self):
        self.check("[plugin.nosuch]\nx = 1\n",
                   r"netkit: {file}:1: plugin 'nosuch' not found "
                   r"\(looked in: .*\)", args=("-p", "framed", "-P", "0", "-H", "127.0.0.1"))

    def test_tcp_option_on_udp_listener(self):
        # The line of the sockopt key, not of the section.
        self.check("[listen.a]\nport = 0\ntransport = udp\n"
                   "sockopt.SO_RCVBUF = 65536\nsockopt.TCP_NODELAY = 1\n",
                   r"netkit: {file}:5: socket option TCP_NODELAY does not "
                   r"apply to udp sockets")

    def test_unknown_sockopt_in_file(self):
        self.check("[listen.a]\nport = 0\nsockopt.SO_KEEPALVE = 1\n",
                   r"netkit: {file}:3: unknown socket option 'SO_KEEPALVE' "
                   r"\(did you mean SO_KEEPALIVE\?\)")

    def test_unsupported_sockopt_in_file(self):
        self.check("[listen.a]\nport = 0\nsockopt.SO_GROUP_PRIORITY = 1\n",
                   r"netkit: {file}:3: .*SO_GROUP_PRIORITY.* not supported "
                   r"on this system")

    def test_bad_file_with_listener_flags(self):
        # Listener flags do not skip checking the file's listeners.
        self.check("[listen.a]\nport = 0\nprot = raw\n",
                   r"netkit: {file}:3: unknown key 'prot' in \[listen\.a\] "
                   r"\(did you mean proto\?\)",
                   args=("-P", "0", "-H", "127.0.0.1"))


class ShippedConfigTest(unittest.TestCase):
    def serve_copy(self, relpath, port_re):
        """Serve a copy of a shipped config with its ports set to 0."""
        with open(os.path.join(nktest.SRCDIR, relpath)) as f:
            text = f.read()
        text, n = re.subn(port_re, "port = 0", text, flags=re.M)
        self.assertGreater(n, 0)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        return Server("-c", write(tmp.name, os.path.basename(relpath), text))

    def test_netkit_ini_serves_framed(self):
        # conf/netkit.ini (port 9999 -> 0) loads and serves framed over TCP
        # on 127.0.0.1 and ::1.
        with self.serve_copy("conf/netkit.ini", r"^port = 9999$") as srv:
            self.assertEqual(listeners(srv),
                             {("tcp", "framed"): (srv.port(), HOSTS)})
            for host in HOSTS:
                with self.subTest(host=host), connect(host, srv.port()) as s:
                    for _ in range(3):
                        s.sendall(frame(b"hello"))
                        self.assertEqual(recv_exact(s, 16),
                                         b"\x0c\x00\x00\x00echo : hello")
            self.assertEqual(srv.stop(), 0)

    def test_multi_example_serves_three_listeners(self):
        with self.serve_copy("conf/examples/multi.ini",
                             r"^port = \d+$") as srv:
            ls = listeners(srv)
            self.assertEqual(set(ls), {("tcp", "framed"), ("udp", "raw"),
                                       ("tcp", "raw")})
            with connect("127.0.0.1", ls["tcp", "framed"][0]) as s:
                s.sendall(frame(b"m"))
                self.assertEqual(recv_frame(s), b"echo : m")
            self.assertEqual(udp_ask("127.0.0.1", ls["udp", "raw"][0], b"u"),
                             b"echo: u")
            with connect("127.0.0.1", ls["tcp", "raw"][0]) as s:
                s.sendall(b"t")
                self.assertEqual(recv_exact(s, 7), b"echo: t")
                s.sendall(b"quit")
                self.assertEqual(s.recv(10), b"")
            self.assertEqual(srv.stop(), 0)

    def test_make_run_command(self):
        # `make run` is exactly `build/netkit serve -c conf/netkit.ini`
        # (checked, not run: it would take port 9999).
        with open(os.path.join(nktest.SRCDIR, "Makefile")) as f:
            text = f.read()
        m = re.search(r"^run:.*\n((?:\t.*\n)+)", text, flags=re.M)
        self.assertIsNotNone(m, "no run: target in the Makefile")
        self.assertRegex(m.group(1),
                         r"(?m)^\t(?:\./)?\$\(BUILD\)/netkit serve "
                         r"-c conf/netkit\.ini$")
        m = re.search(r"^BUILD\s*\??=\s*(\S+)", text, flags=re.M)
        self.assertIsNotNone(m)
        self.assertEqual(m.group(1), "build")


if __name__ == "__main__":
    nktest.main()
