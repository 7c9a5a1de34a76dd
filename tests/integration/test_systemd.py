"""Running under systemd: socket activation (LISTEN_FDS/LISTEN_FDNAMES,
driven by the real systemd-socket-activate), sd_notify's READY=1 and
STOPPING=1 (a Python datagram socket plays systemd), and dropping root
after binding a port below 1024.

systemd-socket-activate cannot bind port 0, so its ports are found free
first (bind, read, close) and the activation retried if another process
took one meanwhile."""
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest

import nktest
from nktest import Server, config_file, frame, recv_frame

ACTIVATE = shutil.which("systemd-socket-activate")
LISTENING = re.compile(r"^Listening on (\S+):(\d+) as (\d+)\.")


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def activated(config, tcp_port, udp_port, workers):
    """netkit under two nested systemd-socket-activate: a TCP socket named
    main and a UDP socket named dns (the inner one passes the outer one's
    descriptor on, so it names both)."""
    launcher = [ACTIVATE, "-l", "127.0.0.1:%d" % tcp_port, "--fdname=main",
                ACTIVATE, "-d", "-l", "127.0.0.1:%d" % udp_port,
                "--fdname=main:dns"]
    return Server("-c", config, "-w", str(workers), launcher=launcher,
                  wait_listen=False)


@unittest.skipUnless(ACTIVATE, "systemd-socket-activate not installed")
class SocketActivationTest(unittest.TestCase):
    CONFIG = ("[listen.main]\nproto = framed\nport = 0\n"
              "[listen.dns]\nproto = framed\ntransport = udp\nport = 0\n"
              "[listen.own]\nproto = raw\nhost = 127.0.0.1\nport = 0\n")

    def test_tcp_and_udp_from_inherited_descriptors(self):
        # One worker, and three sharing each inherited socket.
        for workers in (1, 3):
            with self.subTest(workers=workers):
                self.serve_activated(workers)

    def serve_activated(self, workers):
        with config_file(self.CONFIG) as path:
            for attempt in range(5):
                tcp_port = free_port(socket.SOCK_STREAM)
                udp_port = free_port(socket.SOCK_DGRAM)
                srv = activated(path, tcp_port, udp_port, workers)
                try:
                    srv.wait_for(LISTENING)
                    break
                except AssertionError:
                    srv.__exit__(None, None, None)  # a port was taken
            else:
                self.fail("no free ports for systemd-socket-activate")
            with srv:
                # The first connection makes the outer launcher start the
                # inner one, which binds UDP and starts netkit at once
                # (the pending connection is already waiting).
                t = nktest.connect("127.0.0.1", tcp_port)
                srv.wait_for(nktest.READY_RE)
                log = srv.stderr()
                self.assertIn("Listen on 127.0.0.1:%d (tcp, framed)"
                              % tcp_port, log)
                self.assertIn("Listen on 127.0.0.1:%d (udp, framed)"
                              % udp_port, log)
                # Only main and dns came from systemd; own bound itself.
                self.assertRegex(log, r"Listen on 127\.0\.0\.1:\d+ "
                                      r"\(tcp, raw\)")
                self.assertNotRegex(log, r"\[::1\]:%d" % tcp_port)
                with t:
                    t.sendall(frame(b"hi"))
                    self.assertEqual(recv_frame(t), b"echo : hi")
                for i in range(2 * workers):  # whichever worker accepts
                    with nktest.connect("127.0.0.1", tcp_port) as c:
                        c.sendall(frame(b"%d" % i))
                        self.assertEqual(recv_frame(c), b"echo : %d" % i)
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.settimeout(nktest.DEADLINE)
                    u.sendto(frame(b"dns"), ("127.0.0.1", udp_port))
                    self.assertEqual(u.recv(100), frame(b"echo : dns"))
                self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless(nktest.have_ipv6(), "no IPv6 on this machine")
    def test_reload_keeps_every_address(self):
        # As the shipped netkit.socket does: 127.0.0.1 and [::1], one name.
        for workers in (1, 3):
            with self.subTest(workers=workers):
                self.reload_activated(workers)

    def reload_activated(self, workers):
        cfg = ("[listen.main]\nproto = framed\nport = 0\n"
               "[plugin.framed]\nprefix = \"v%d: \"\n")
        with config_file(cfg % 0) as path:
            for attempt in range(5):
                port = free_port(socket.SOCK_STREAM)
                srv = Server("-c", path, "-w", str(workers),
                             wait_listen=False,
                             launcher=[ACTIVATE, "-l", "127.0.0.1:%d" % port,
                                       "-l", "[::1]:%d" % port,
                                       "--fdname=main:main"])
                try:
                    srv.wait_for(LISTENING)
                    srv.wait_for(re.compile(r"^Listening on \[::1\]"))
                    break
                except AssertionError:
                    srv.__exit__(None, None, None)  # the port was taken
            else:
                self.fail("no free port for systemd-socket-activate")
            with srv:
                first = nktest.connect("127.0.0.1", port)
                srv.wait_for(nktest.READY_RE)
                first.close()
                for gen in (1, 2):
                    with open(path, "w") as f:
                        f.write(cfg % gen)
                    start = len(srv.lines)
                    srv.proc.send_signal(signal.SIGHUP)
                    srv.wait_for(re.compile(r"Reloaded .*: 1 listener \(1 "
                                            r"kept their sockets\)"),
                                 start=start)
                    for host in ("127.0.0.1", "::1"):
                        # The previous workers may take one more.
                        end = time.monotonic() + nktest.DEADLINE
                        while True:
                            with nktest.connect(host, port,
                                                timeout=nktest.DEADLINE
                                                / 2) as c:
                                c.sendall(frame(b"x"))
                                reply = recv_frame(c)
                            if reply == b"v%d: x" % gen or \
                                    time.monotonic() > end:
                                break
                        self.assertEqual(reply, b"v%d: x" % gen, host)
                self.assertEqual(srv.stop(), 0)

    def test_descriptor_of_the_wrong_kind(self):
        # A stream socket named for a udp listener: one line, exit 2.
        cfg = "[listen.main]\nproto = framed\ntransport = udp\nport = 0\n"
        with config_file(cfg) as path:
            port = free_port(socket.SOCK_STREAM)
            srv = Server("-c", path, wait_listen=False,
                         launcher=[ACTIVATE, "-l", "127.0.0.1:%d" % port,
                                   "--fdname=main"])
            with srv:
                srv.wait_for(LISTENING)
                try:
                    with nktest.connect("127.0.0.1", port):
                        srv.wait_for("netkit: ")
                except ConnectionResetError:
                    # netkit refused the socket and exited before connect
                    # returned: the queued connection went with the socket.
                    srv.wait_for("netkit: ")
                self.assertEqual(srv.proc.wait(nktest.DEADLINE), 2)
                self.assertIn("netkit: %s:1: [listen.main]: inherited "
                              "descriptor 3 is not a datagram socket "
                              "(ListenDatagram=), as transport = udp needs"
                              % path, srv.stderr())

    def test_unclaimed_descriptor_is_closed(self):
        cfg = "[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n"
        with config_file(cfg) as path:
            port = free_port(socket.SOCK_STREAM)
            srv = Server("-c", path, wait_listen=False,
                         launcher=[ACTIVATE, "-l", "127.0.0.1:%d" % port,
                                   "--fdname=web"])
            with srv:
                srv.wait_for(LISTENING)
                try:
                    c = nktest.connect("127.0.0.1", port)
                except ConnectionResetError:
                    c = None  # netkit closed the socket mid-handshake
                srv.wait_for(nktest.READY_RE)
                self.assertIn("Inherited descriptor 3 is named 'web', which "
                              "no [listen.NAME] section is: closing it",
                              srv.stderr())
                if c is not None:
                    with c:  # the pending connection goes with the socket
                        try:
                            self.assertEqual(c.recv(10), b"")
                        except ConnectionResetError:
                            pass
                self.assertEqual(srv.stop(), 0)


class NotifyTest(unittest.TestCase):
    def notify_socket(self, abstract):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.settimeout(nktest.DEADLINE)
        if abstract:
            name = "netkit-test-%d" % os.getpid()
            s.bind("\0" + name)
            return s, "@" + name
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, "notify")
        s.bind(path)
        return s, path

    def test_ready_and_stopping(self):
        for abstract in (False, True):
            with self.subTest(abstract=abstract):
                sock, name = self.notify_socket(abstract)
                with sock, Server("-p", "framed", "-P", "0",
                                  env={"NOTIFY_SOCKET": name}) as srv:
                    ready = sock.recv(4096).decode()
                    self.assertIn("READY=1", ready.split("\n"))
                    self.assertIn("STATUS=Serving 1 listener", ready)
                    # Ready means serving: a client is answered now.
                    with nktest.connect("127.0.0.1", srv.port()) as c:
                        c.sendall(frame(b"x"))
                        self.assertEqual(recv_frame(c), b"echo : x")
                    srv.proc.send_signal(15)
                    stopping = sock.recv(4096).decode()
                    self.assertIn("STOPPING=1", stopping.split("\n"))
                    # One SIGTERM is enough: wait for the exit.
                    self.assertEqual(srv.proc.wait(nktest.DEADLINE), 0)


@unittest.skipUnless(os.geteuid() == 0, "needs root")
class PrivilegesTest(unittest.TestCase):
    def low_port(self):
        """Port 80 if free, else another free port below 1024."""
        for port in [80] + list(range(1023, 900, -1)):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
        self.skipTest("no free port below 1024")

    def status_ids(self, pid):
        ids = {}
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Uid", "Gid", "Groups"):
                    ids[key] = value.split()
        return ids

    def test_drop_to_nobody_after_binding_a_low_port(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        port = self.low_port()
        cfg = ("[netkit]\nuser = nobody\n[listen.main]\nproto = framed\n"
               "host = 127.0.0.1\nport = %d\n" % port)
        with config_file(cfg) as path, Server("-c", path) as srv:
            self.assertEqual(srv.port(), port)
            self.assertIn("Running as user nobody (uid %d, gid %d)"
                          % (nobody.pw_uid, nobody.pw_gid), srv.stderr())
            self.assertNotIn("Serving as root", srv.stderr())
            ids = self.status_ids(srv.proc.pid)
            # real, effective, saved and filesystem ids: all nobody's
            self.assertEqual(ids["Uid"], [str(nobody.pw_uid)] * 4)
            self.assertEqual(ids["Gid"], [str(nobody.pw_gid)] * 4)
            self.assertNotIn("0", ids["Groups"])
            with nktest.connect("127.0.0.1", port) as c:
                c.sendall(frame(b"low"))
                self.assertEqual(recv_frame(c), b"echo : low")
            self.assertEqual(srv.stop(), 0)

    def test_root_without_user_warns(self):
        with Server("-p", "framed", "-P", "0") as srv:
            self.assertIn("[!] Serving as root: set user in [netkit]",
                          srv.stderr())
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
