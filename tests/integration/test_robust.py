"""Hostile peers and awkward plugins, each a case a review found the server
got wrong once: a paused connection that must resume, a whole oversized
frame, an idle timeout against a peer that only reads, a session closed from
on_open, a plugin whose create fails, UDP on a wildcard address, and a NUL
byte on the last line of a config file."""
import os
import socket
import struct
import threading
import time
import unittest

import nktest
from nktest import Server, connect, frame, recv_exact, recv_frame

FIXTURES = os.path.join(os.environ.get("NK_BUILDDIR") or
                        os.path.join(nktest.SRCDIR, "build"),
                        "tests", "fixtures", "plugins")


class BackPressureTest(unittest.TestCase):
    def test_paused_connection_resumes(self):
        # A peer sends 4 MB of messages without reading; the server pauses
        # it past the high-water mark.  Once the peer reads everything, the
        # connection must be served again: a last message gets its reply.
        count, size = 4000, 1000
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1") as srv:
            s = connect("127.0.0.1", srv.port())
            payload = b"p" * size
            sender = threading.Thread(
                target=s.sendall, args=(frame(payload) * count,))
            sender.start()
            reply = b"echo : " + payload
            for _ in range(count):
                self.assertEqual(recv_frame(s), reply)
            sender.join(nktest.DEADLINE)
            s.sendall(frame(b"last"))
            self.assertEqual(recv_frame(s), b"echo : last")
            s.close()
            self.assertEqual(srv.stop(), 0)

    def test_reading_peer_is_not_idle(self):
        # --idle-timeout counts a peer that is reading its replies as
        # active, even while reading from it is paused.  The slow reads are
        # the behaviour under test (a slow consumer), not a wait.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                    "-O", "prefix=", "-O", "exit_word=",
                    "--idle-timeout", "0.5",
                    "-o", "SO_SNDBUF=16384") as srv:
            s = connect("127.0.0.1", srv.port())
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            data = os.urandom(3 << 20)
            sender = threading.Thread(target=s.sendall, args=(data,))
            sender.start()
            got = bytearray()
            deadline = time.monotonic() + 30
            while len(got) < len(data) and time.monotonic() < deadline:
                chunk = s.recv(65536)
                self.assertNotEqual(chunk, b"", "closed after %d bytes"
                                    % len(got))
                got += chunk
                time.sleep(0.02)  # a slow reader: the behaviour tested
            sender.join(nktest.DEADLINE)
            self.assertEqual(bytes(got), data)
            s.close()
            self.assertNotIn("(idle timeout)", srv.stderr())
            self.assertEqual(srv.stop(), 0)


class LimitsTest(unittest.TestCase):
    def test_whole_oversized_frame_is_refused(self):
        # A frame over max_frame is refused even when it arrives whole in
        # one read, not only when its header comes first.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "-O", "max_frame=16") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"x" * 100))
                self.assertEqual(s.recv(100), b"")
            srv.wait_for("is over the limit")
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"x" * 16) + frame(b"y" * 17))
                self.assertEqual(recv_frame(s), b"echo : " + b"x" * 16)
                self.assertEqual(s.recv(100), b"")
            self.assertEqual(srv.stop(), 0)


class PluginEdgesTest(unittest.TestCase):
    def test_close_from_on_open_still_calls_on_close(self):
        # The banner fixture sends "bye\n" and closes from on_open; the
        # host still owes it on_close (which frees its per-session data --
        # valgrind runs would report the leak otherwise).
        with Server("-L", FIXTURES, "-p", "banner", "-P", "0",
                    "-H", "127.0.0.1") as srv:
            for _ in range(3):
                with connect("127.0.0.1", srv.port()) as s:
                    self.assertEqual(recv_exact(s, 4), b"bye\n")
                    self.assertEqual(s.recv(10), b"")
            srv.wait_for("on_close")
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(srv.stderr().count(": on_close"), 3)

    def test_failing_create_is_a_config_error(self):
        # A plugin refusing its options in create stops start-up cleanly
        # (exit 2, one line), whichever listener it serves.
        with nktest.config_file("[listen.a]\nproto = failcreate\nport = 0\n\n"
                                "[listen.b]\nproto = raw\nport = 0\n",
                                name="fail.ini") as path:
            r = nktest.run("serve", "-L", FIXTURES, "-c", path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "netkit: %s:1: plugin failcreate: this fixture "
                         "always refuses\n" % path)


class WildcardUdpTest(unittest.TestCase):
    def test_reply_comes_from_the_address_asked(self):
        # Bound to 0.0.0.0 or ::, a UDP listener answers from the address
        # the datagram was sent to: a connected client on 127.0.0.2 only
        # accepts a reply from 127.0.0.2.
        for host in ("0.0.0.0", "::"):
            with self.subTest(host=host), \
                    Server("-p", "raw", "-u", "-P", "0", "-H", host) as srv:
                port = srv.port("udp")
                for dest in ("127.0.0.2", "127.0.0.3"):
                    with socket.socket(socket.AF_INET,
                                       socket.SOCK_DGRAM) as u:
                        u.settimeout(nktest.DEADLINE)
                        u.connect((dest, port))
                        u.send(b"where")
                        self.assertEqual(u.recv(100),
                                         b">Server echo : where")
                self.assertEqual(srv.stop(), 0)


class ConfigBytesTest(unittest.TestCase):
    def test_nul_on_last_line(self):
        # A NUL byte on a last line without a newline is an error, not a
        # value silently cut at the NUL.
        with nktest.config_file(b"[listen.a]\nport = 0\n"
                                b"max_conns = 5\x00 00",
                                name="nul.ini") as path:
            r = nktest.run("serve", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(),
                         "netkit: %s:3: line holds a NUL byte\n" % path)


if __name__ == "__main__":
    nktest.main()
