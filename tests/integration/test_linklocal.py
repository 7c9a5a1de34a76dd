"""Link-local IPv6 with a scope id (fe80::...%IFACE), served and connected.

`lo` has no link-local address, so the test re-runs itself inside a private
network namespace (unshare -n, root only) and makes one: a veth pair whose
ends get fe80:: addresses.  Nothing outside the namespace is touched.  Where
a namespace cannot be made (not root, no veth), the tests are skipped."""
import os
import subprocess
import sys
import time
import unittest

import nktest
from nktest import Server, frame, recv_frame

INNER = os.environ.get("NK_IN_NETNS") == "1"


def setup_namespace():
    """Inside the namespace: bring up a veth pair; return its fe80 address."""
    cmds = ["sysctl -qw net.ipv6.conf.default.accept_dad=0",
            "ip link set lo up",
            "ip link add nk0 type veth peer name nk1",
            "ip link set nk0 up", "ip link set nk1 up"]
    for cmd in cmds:
        subprocess.run(cmd.split(), check=True, capture_output=True)
    deadline = time.monotonic() + nktest.DEADLINE
    while time.monotonic() < deadline:  # bounded: the address appears fast
        out = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", "nk0",
                              "scope", "link"], capture_output=True,
                             text=True).stdout.split()
        if "inet6" in out:
            return out[out.index("inet6") + 1].split("/")[0]
        os.sched_yield()
    raise AssertionError("no link-local address appeared on nk0")


class LinkLocalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.addr = setup_namespace()
        cls.scoped = cls.addr + "%nk0"

    def test_serve_and_connect_with_scope(self):
        # -H fe80::...%nk0 binds with the scope; the log shows it bracketed
        # with the interface name; netkit connect reaches it either way
        # ("fe80::...%nk0" and "[fe80::...%nk0]").
        with Server("-p", "framed", "-P", "0", "-H", self.scoped) as srv:
            host, port, _ = srv.addrs()[0]
            self.assertEqual(host, self.scoped)
            srv.wait_for("Listen on [%s]:%d (tcp, framed)"
                         % (self.scoped, port))
            for target in (self.scoped, "[%s]" % self.scoped):
                r = nktest.run("connect", "-p", "framed", "-m", "hi",
                               target, str(port))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, b"echo : hi\n")
            with nktest.connect(self.scoped, port) as s:
                s.sendall(frame(b"python"))
                self.assertEqual(recv_frame(s), b"echo : python")
            self.assertEqual(srv.stop(), 0)

    def test_udp_with_scope(self):
        # The scope id also works for a UDP listener.
        import socket
        with Server("-p", "raw", "-u", "-P", "0", "-H", self.scoped) as srv:
            port = srv.port("udp")
            info = socket.getaddrinfo(self.scoped, port, socket.AF_INET6,
                                      socket.SOCK_DGRAM)[0]
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as u:
                u.settimeout(nktest.DEADLINE)
                u.sendto(b"ping", info[4])
                self.assertEqual(u.recv(100), b">Server echo : ping")
            self.assertEqual(srv.stop(), 0)


def main():
    if INNER:
        nktest.main()
        return
    probe = subprocess.run(["unshare", "-n", "ip", "link", "add", "nkp0",
                            "type", "veth", "peer", "name", "nkp1"],
                           capture_output=True)
    if probe.returncode != 0:
        print("skipping: cannot make a network namespace with veth (%s)"
              % probe.stderr.decode().strip())
        print("0 passed, 0 failed, 2 skipped")
        return
    env = dict(os.environ, NK_IN_NETNS="1")
    sys.exit(subprocess.run(["unshare", "-n", sys.executable,
                             os.path.abspath(__file__)], env=env).returncode)


if __name__ == "__main__":
    main()
