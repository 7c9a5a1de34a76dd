"""AF_UNIX: `netkit serve -H unix:/path` (and `host = unix:/path`, and
abstract names unix:@name) with the same plugins, stream and datagram;
`netkit connect unix:/path`; the socket file's mode and owner; a stale
socket file replaced, one in use refused, the file removed at exit."""
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import nktest
from nktest import DEADLINE, Server, run

READY = "[*] Ready ("


def unix_server(path, *args, **kw):
    return Server("-H", "unix:" + path, *args, **kw)


class UnixTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nkunix-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.dir]))

    def path(self, name="s.sock"):
        return os.path.join(self.dir, name)

    def test_plugins_stream(self):
        cases = [("raw", b"hi", b">Server echo : hi"),
                 ("framed", nktest.frame(b"hi"), nktest.frame(b"echo : hi")),
                 ("line", b"hi\n", b"echo : hi\n")]
        for proto, send, want in cases:
            with self.subTest(proto=proto), \
                    unix_server(self.path(), "-p", proto) as srv:
                srv.wait_for("Listen on unix:%s (stream, %s)"
                             % (self.path(), proto))
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(DEADLINE)
                    s.connect(self.path())
                    s.sendall(send)
                    self.assertEqual(nktest.recv_exact(s, len(want)), want)
                p = run("connect", "-p", proto, "-m", "hi", "-n", "2",
                        "unix:" + self.path())
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.count(b"echo : hi\n"), 2)
                self.assertEqual(srv.stop(), 0, srv.stderr())
                # Removed at exit.
                self.assertFalse(os.path.exists(self.path()))

    def test_plugins_datagram(self):
        for proto, want in (("raw", b">Server echo : hi\n"),
                            ("framed", b"echo : hi\n"),
                            ("line", b"echo : hi\n")):
            with self.subTest(proto=proto), \
                    unix_server(self.path(), "-u", "-p", proto) as srv:
                srv.wait_for("(dgram, %s)" % proto)
                p = run("connect", "-u", "-p", proto, "-m", "hi", "-n", "3",
                        "unix:" + self.path())
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, want * 3)
                # A datagram client of its own (autobound name).
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                    s.settimeout(DEADLINE)
                    s.bind("")
                    payload = {"raw": b"x", "framed": nktest.frame(b"x"),
                               "line": b"x\n"}[proto]
                    s.sendto(payload, self.path())
                    self.assertIn(b"x", s.recv(100))
                self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_abstract_name(self):
        name = "nktest-%d" % os.getpid()
        with Server("-H", "unix:@" + name, "-p", "line") as srv:
            srv.wait_for("Listen on unix:@%s" % name)
            p = run("connect", "-p", "line", "-m", "abc", "unix:@" + name)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"echo : abc\n")
            with socket.socket(socket.AF_UNIX) as s:
                s.connect("\0" + name)
                s.sendall(b"def\n")
                self.assertEqual(nktest.recv_line(s), b"echo : def\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_binary_pipe_and_stream(self):
        data = os.urandom(1 << 20)
        with unix_server(self.path(), "-p", "raw", "-O", "prefix=", "-O",
                         "exit_word=") as srv:
            p = run("connect", "unix:" + self.path(), input=data)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout == data)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_config_mode_and_owner(self):
        ini = ("[listen.local]\nproto = framed\nhost = unix:%s\n"
               "unix_mode = 0600\nunix_owner = nobody\n" % self.path())
        with nktest.config_file(ini) as conf, \
                Server("-c", conf) as srv:
            st = os.stat(self.path())
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            import pwd
            self.assertEqual(st.st_uid, pwd.getpwnam("nobody").pw_uid)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_config_errors(self):
        for line, want in (("unix_mode = 999", "expected an octal mode"),
                           ("unix_owner = no-such-user-x", "unknown user"),
                           ("host = unix:", "expected unix:/PATH")):
            ini = "[listen.a]\nhost = unix:%s\n%s\n" % (self.path(), line)
            with self.subTest(line=line), nktest.config_file(ini) as conf:
                p = run("serve", "-c", conf)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
                self.assertIn(want.encode(), p.stderr)

    def test_stale_socket_replaced(self):
        # A socket file nobody listens on (a server that died).
        s = socket.socket(socket.AF_UNIX)
        s.bind(self.path())
        s.close()
        self.assertTrue(os.path.exists(self.path()))
        with unix_server(self.path(), "-p", "raw") as srv:
            p = run("connect", "-m", "ok", "unix:" + self.path())
            self.assertEqual(p.stdout, b">Server echo : ok\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_in_use_and_not_a_socket(self):
        with unix_server(self.path(), "-p", "raw") as srv:
            p = run("serve", "-H", "unix:" + self.path())
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"in use: a process listens on it", p.stderr)
            # The first still serves; its file is still there.
            p = run("connect", "-m", "ok", "unix:" + self.path())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(srv.stop(), 0, srv.stderr())
        nktest.write(self.dir, "file", "not a socket")
        p = run("serve", "-H", "unix:" + self.path("file"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"exists and is not a socket", p.stderr)
        self.assertTrue(os.path.exists(self.path("file")))  # left alone

    def test_workers_share_the_socket(self):
        with unix_server(self.path(), "-p", "raw", "-w", "3") as srv:
            for i in range(6):
                p = run("connect", "-m", "w%d" % i, "unix:" + self.path())
                self.assertEqual(p.stdout, b">Server echo : w%d\n" % i)
            self.assertEqual(srv.stop(), 0, srv.stderr())
        self.assertFalse(os.path.exists(self.path()))

    def test_mixed_with_inet_port_0(self):
        # A unix address first, then 127.0.0.1 with -P 0: the port picked
        # is a real one (a unix socket has none to give).
        with Server("-H", "unix:" + self.path(), "-H", "127.0.0.1", "-P",
                    "0", "-p", "raw") as srv:
            port = srv.port()
            self.assertNotIn(port, (0, 65535))
            with nktest.connect("127.0.0.1", port) as s:
                s.sendall(b"x")
                self.assertEqual(nktest.recv_exact(s, 16),
                                 b">Server echo : x")
            p = run("connect", "-m", "y", "unix:" + self.path())
            self.assertEqual(p.stdout, b">Server echo : y\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_reload_keeps_the_socket(self):
        ini = "[listen.a]\nproto = %s\nhost = unix:" + self.path() + "\n"
        with tempfile.TemporaryDirectory() as d:
            conf = nktest.write(d, "netkit.ini", ini % "raw")
            with Server("-c", conf, "-w", "2") as srv:
                st = os.stat(self.path())
                nktest.write(d, "netkit.ini", ini % "line")
                srv.proc.send_signal(signal.SIGHUP)
                srv.wait_for("1 kept their sockets")
                # The same file, now served by the new plugin.
                self.assertEqual(os.stat(self.path()).st_ino, st.st_ino)
                p = run("connect", "-p", "line", "-m", "hi",
                        "unix:" + self.path())
                self.assertEqual(p.stdout, b"echo : hi\n")
                self.assertEqual(srv.stop(), 0, srv.stderr())
            self.assertFalse(os.path.exists(self.path()))

    @unittest.skipUnless(shutil.which("systemd-socket-activate"),
                         "systemd-socket-activate not installed")
    def test_socket_activation(self):
        # systemd's unix socket, named for the listener, is served; the
        # file is systemd's: left in place at exit.
        ini = ("[listen.main]\nproto = line\nhost = unix:%s\n"
               % self.path())
        with nktest.config_file(ini) as conf, \
                Server("-c", conf, "-w", "2", launcher=[
                    shutil.which("systemd-socket-activate"), "-l",
                    self.path(), "--fdname=main"],
                    wait_listen=False) as srv:
            # systemd-socket-activate starts netkit on the first client,
            # which its socket holds until netkit answers.
            end = time.monotonic() + DEADLINE
            while not os.path.exists(self.path()):
                self.assertLess(time.monotonic(), end, srv.stderr())
                time.sleep(0.02)  # polling for the file, with a deadline
            p = run("connect", "-p", "line", "-m", "sd", "unix:" + self.path())
            self.assertEqual(p.stdout, b"echo : sd\n", p.stderr)
            srv.wait_for(READY)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_connect_errors(self):
        p = run("connect", "-m", "x", "unix:" + self.path("none"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"No such file or directory", p.stderr)
        p = run("connect", "--proxy-protocol", "v1", "unix:" + self.path())
        self.assertEqual(p.returncode, 2, p.stderr)
        p = run("connect", "unix:")
        self.assertEqual(p.returncode, 2, p.stderr)
        p = run("connect", "unix:" + self.path(), "9999")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"it takes no PORT", p.stderr)


if __name__ == "__main__":
    nktest.main()
