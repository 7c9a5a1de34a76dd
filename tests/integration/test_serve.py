"""`netkit serve` over TCP, driven by plain Python sockets, the simple
threaded way a tutorial would write a client.  Every case runs on 127.0.0.1
and ::1 (where the machine has IPv6)."""
import os
import signal
import socket
import struct
import unittest

import nktest
from nktest import HOSTS, Server, connect, frame, recv_exact, recv_frame


class FramedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-p", "framed", "-P", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_hello_nine_times(self):
        # The client: hello 9 times, 9 replies "echo : hello".
        for host in HOSTS:
            with self.subTest(host=host), connect(host, self.srv.port()) as s:
                for _ in range(9):
                    s.sendall(frame(b"hello"))
                    self.assertEqual(recv_exact(s, 16),
                                     b"\x0c\x00\x00\x00echo : hello")

    def test_many_messages_in_one_write(self):
        # Nine messages in one segment are nine replies, in order.
        for host in HOSTS:
            with self.subTest(host=host), connect(host, self.srv.port()) as s:
                s.sendall(b"".join(frame(b"m%d" % i) for i in range(9)))
                for i in range(9):
                    self.assertEqual(recv_frame(s), b"echo : m%d" % i)

    def test_split_one_byte_per_write(self):
        # A message dripped one byte at a time is still one message.
        with connect("127.0.0.1", self.srv.port()) as s:
            for b in frame(b"drip"):
                s.send(bytes([b]))
            self.assertEqual(recv_frame(s), b"echo : drip")

    def test_empty_message(self):
        # Length 0 is a valid message: answered with the prefix alone.
        with connect("127.0.0.1", self.srv.port()) as s:
            s.sendall(frame(b""))
            self.assertEqual(recv_exact(s, 11), b"\x07\x00\x00\x00echo : ")

    def test_binary_and_large_payload(self):
        # Binary bytes survive; a 1 MiB payload (the default max) is served.
        payload = bytes(range(256)) * 4096
        with connect("127.0.0.1", self.srv.port()) as s:
            s.sendall(frame(payload))
            self.assertEqual(recv_frame(s), b"echo : " + payload)

    def test_oversized_frame_closes_only_that_connection(self):
        # A length above max_frame closes the connection before any payload
        # is buffered, is logged, and does not disturb other connections.
        port = self.srv.port()
        with connect("127.0.0.1", port) as good, \
                connect("127.0.0.1", port) as bad:
            start = len(self.srv.lines)
            bad.sendall(struct.pack("<I", (1 << 20) + 1))
            self.assertEqual(bad.recv(10), b"")
            self.srv.wait_for("is over the limit", start=start)
            good.sendall(frame(b"still here"))
            self.assertEqual(recv_frame(good), b"echo : still here")

    def test_slow_drip_does_not_block_others(self):
        # A peer that sends a message a few bytes at a time, with another
        # client's whole exchange between its pieces, holds only its own
        # partial message: the others are served meanwhile, and the drip is
        # answered once complete.
        port = self.srv.port()
        with connect("127.0.0.1", port) as drip:
            for piece in (b"\x05\x00", b"\x00\x00he", b"ll", b"o"):
                drip.sendall(piece)
                with connect("127.0.0.1", port) as other:
                    other.sendall(frame(b"other"))
                    self.assertEqual(recv_frame(other), b"echo : other")
            self.assertEqual(recv_frame(drip), b"echo : hello")

    def test_fifty_concurrent_clients(self):
        # 50 clients at once, each on its own thread, each answered right.
        def client(i):
            host = HOSTS[i % len(HOSTS)]
            with connect(host, self.srv.port()) as s:
                msg = b"client %d" % i
                s.sendall(frame(msg))
                return recv_frame(s) == b"echo : " + msg

        self.assertEqual(nktest.concurrently(50, client),
                         {i: True for i in range(50)})

    def test_connection_logged(self):
        # The documented "Connection from" and "Connection closed" lines.
        start = len(self.srv.lines)
        with connect("127.0.0.1", self.srv.port()) as s:
            s.sendall(frame(b"x"))
            recv_frame(s)
            local = s.getsockname()[1]
        self.srv.wait_for("Connection from 127.0.0.1:%d" % local, start=start)
        self.srv.wait_for("Connection closed 127.0.0.1:%d" % local,
                          start=start)

    def test_peer_reset_is_harmless(self):
        # A peer that resets mid-message costs only its own connection.
        s = connect("127.0.0.1", self.srv.port())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.sendall(struct.pack("<I", 100) + b"partial")
        s.close()
        with connect("127.0.0.1", self.srv.port()) as s2:
            s2.sendall(frame(b"after reset"))
            self.assertEqual(recv_frame(s2), b"echo : after reset")

    def test_peer_that_never_reads(self):
        # A peer that sends but never reads is paused (back-pressure) and
        # does not stop the server answering others.
        hog = connect("127.0.0.1", self.srv.port())
        hog.setblocking(False)
        sent = 0
        chunk = b"".join(frame(b"y" * 1000) for _ in range(64))
        for _ in range(4000):  # bounded: at most ~260 MB offered
            try:
                sent += hog.send(chunk)
            except BlockingIOError:
                break
        self.assertGreater(sent, 0)
        with connect("127.0.0.1", self.srv.port()) as s:
            s.sendall(frame(b"not starved"))
            self.assertEqual(recv_frame(s), b"echo : not starved")
        hog.close()


class RawTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("-p", "raw", "-P", "0")

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.stderr()

    def test_echo_then_exit_closes(self):
        # hello -> ">Server echo : hello"; exit -> the server closes.
        for host in HOSTS:
            with self.subTest(host=host), connect(host, self.srv.port()) as s:
                s.sendall(b"hello")
                self.assertEqual(recv_exact(s, 20), b">Server echo : hello")
                s.sendall(b"exit")
                self.assertEqual(s.recv(100), b"")

    def test_exit_with_newline(self):
        # A trailing \r\n or \n after the exit word is ignored.
        for word in (b"exit\n", b"exit\r\n"):
            with self.subTest(word=word), \
                    connect("127.0.0.1", self.srv.port()) as s:
                s.sendall(word)
                self.assertEqual(s.recv(100), b"")

    def test_half_close_gets_replies(self):
        # The peer shuts its write side: what it sent is still answered.
        with connect("127.0.0.1", self.srv.port()) as s:
            s.sendall(b"last words")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(100)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(data, b">Server echo : last words")


class OptionsTest(unittest.TestCase):
    def test_plugin_options_from_command_line(self):
        # -O sets plugin options: a big-endian 2-byte length (DNS framing).
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "-O", "prefix=re: ", "-O", "length_bytes=2",
                    "-O", "byte_order=big") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"\x00\x02hi")
                self.assertEqual(recv_exact(s, 8), b"\x00\x06re: hi")
            self.assertEqual(srv.stop(), 0)

    def test_small_max_frame(self):
        # max_frame=4: a 4-byte payload passes, 5 closes the connection.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "-O", "max_frame=4") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(frame(b"1234"))
                self.assertEqual(recv_frame(s), b"echo : 1234")
                s.sendall(struct.pack("<I", 5))
                self.assertEqual(s.recv(10), b"")
            self.assertEqual(srv.stop(), 0)

    def test_port_zero_is_shared_by_all_addresses(self):
        # -P 0 picks one free port used by 127.0.0.1 and ::1 alike.
        with Server("-p", "framed", "-P", "0") as srv:
            ports = {p for _, p, _ in srv.addrs()}
            self.assertEqual(len(ports), 1)
            self.assertEqual(len(srv.addrs()), len(HOSTS))
            self.assertEqual(srv.stop(), 0)

    def test_sigint_exits_zero(self):
        # SIGINT, like SIGTERM, stops the server cleanly with status 0.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1") as srv:
            self.assertEqual(srv.stop(signal.SIGINT), 0)

    def test_sighup_is_harmless(self):
        # SIGHUP is logged and the server keeps serving.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1") as srv:
            srv.proc.send_signal(signal.SIGHUP)
            srv.wait_for("SIGHUP")
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"x")
                self.assertEqual(recv_exact(s, 16), b">Server echo : x")
            self.assertEqual(srv.stop(), 0)

    def test_idle_timeout(self):
        # --idle-timeout closes a silent connection, and logs why.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                    "--idle-timeout", "0.2") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                self.assertEqual(s.recv(10), b"")
            srv.wait_for("(idle timeout)")
            self.assertEqual(srv.stop(), 0)

    def test_max_conns(self):
        # Past --max-conns a new connection is closed at once and logged;
        # the ones already open keep working.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                    "--max-conns", "2") as srv:
            a = connect("127.0.0.1", srv.port())
            b = connect("127.0.0.1", srv.port())
            a.sendall(b"a")
            recv_exact(a, 16)
            b.sendall(b"b")
            recv_exact(b, 16)
            with connect("127.0.0.1", srv.port()) as c:
                self.assertEqual(c.recv(10), b"")
            srv.wait_for("max_conns (2) reached")
            a.sendall(b"again")
            self.assertEqual(recv_exact(a, 20), b">Server echo : again")
            a.close()
            b.close()
            self.assertEqual(srv.stop(), 0)

    def test_json_log(self):
        # --log-format json: every stderr line is one JSON object.
        import json
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                    "--log-format", "json", wait_listen=False) as srv:
            srv.wait_for('"msg":"Ready')
            self.assertEqual(srv.stop(), 0)
            events = [json.loads(l) for l in srv.stderr().splitlines()]
        self.assertEqual(events[0]["level"], "info")
        self.assertRegex(events[0]["msg"],
                         r"^Listen on 127\.0\.0\.1:\d+ \(tcp, raw\)$")
        self.assertRegex(events[0]["ts"], r"^\d{4}-\d\d-\d\dT")

    def test_max_conns_counts_every_worker(self):
        # --max-conns bounds the listener, not each worker: with -w 2 and a
        # limit of 3, three connections are served and every further one is
        # refused, whichever worker the kernel hands it to.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-w", "2",
                    "--max-conns", "3") as srv:
            held = [connect("127.0.0.1", srv.port()) for _ in range(3)]
            for s in held:
                s.sendall(b"x")
                self.assertEqual(recv_exact(s, 16), b">Server echo : x")
            for _ in range(4):
                with connect("127.0.0.1", srv.port()) as extra:
                    self.assertEqual(extra.recv(10), b"")
            for s in held:
                s.close()
            self.assertEqual(srv.stop(), 0)

    @unittest.skipIf(nktest.VALGRIND, "valgrind needs descriptors of its own")
    def test_out_of_descriptors(self):
        # With few descriptors the server sheds what it cannot accept
        # (accept with a spare descriptor, close at once) instead of
        # spinning, logs it, and serves again once descriptors free up.
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                    nofile=20) as srv:
            port = srv.port()
            conns, shed = [], 0
            for _ in range(30):  # bounded: more than the limit allows
                s = connect("127.0.0.1", port)
                try:
                    s.sendall(b"x")
                    data = s.recv(100)
                except ConnectionResetError:
                    data = b""  # shed with our byte unread: a reset
                if data == b"":
                    shed += 1
                    s.close()
                else:
                    self.assertEqual(data, b">Server echo : x")
                    conns.append(s)
            self.assertGreater(shed, 0)
            self.assertGreater(len(conns), 0)
            srv.wait_for("Out of file descriptors: shed a connection")
            last = conns[-1].getsockname()[1]
            for s in conns:
                s.close()
            srv.wait_for("Connection closed 127.0.0.1:%d" % last)
            with connect("127.0.0.1", port) as s:
                s.sendall(b"again")
                self.assertEqual(recv_exact(s, 20), b">Server echo : again")
            self.assertEqual(srv.stop(), 0)

    def test_workers(self):
        # -w 2: two event loops share the port; both answer.
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "-w", "2") as srv:
            srv.wait_for("Ready (2 workers)")
            for i in range(20):
                with connect("127.0.0.1", srv.port()) as s:
                    s.sendall(frame(b"w%d" % i))
                    self.assertEqual(recv_frame(s), b"echo : w%d" % i)
            self.assertEqual(srv.stop(), 0)


class ErrorsTest(unittest.TestCase):
    def test_unknown_plugin_exits_2(self):
        r = nktest.run("serve", "-p", "nope", "-P", "0")
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr.decode(),
                         r"^netkit: plugin 'nope' not found \(looked in: .*\)\n$")

    def test_unknown_plugin_option_exits_2(self):
        r = nktest.run("serve", "-p", "framed", "-P", "0", "-O", "prefx=a")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(),
                         "netkit: -O prefx: plugin 'framed' has no option "
                         "'prefx' (did you mean prefix?)\n")

    def test_bad_plugin_value_exits_2(self):
        r = nktest.run("serve", "-p", "framed", "-P", "0",
                       "-O", "length_bytes=3")
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.decode().startswith(
            "netkit: -O length_bytes=3: "), r.stderr)

    def test_port_in_use_exits_1(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            r = nktest.run("serve", "-P", str(port), "-H", "127.0.0.1")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode().splitlines()[-1],
                         "netkit: bind 127.0.0.1:%d: Address already in use"
                         % port)

    def test_usage_errors_exit_2(self):
        for args in (["serve", "--port", "70000"], ["serve", "--bogus"],
                     ["serve", "extra"], ["nope"], ["serve", "-m", "x"]):
            with self.subTest(args=args):
                r = nktest.run(*args)
                self.assertEqual(r.returncode, 2)
                self.assertTrue(r.stderr.decode().startswith("netkit: "))
                self.assertEqual(len(r.stderr.decode().splitlines()), 1)

    def test_help_and_version(self):
        r = nktest.run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"netkit serve", r.stdout)
        r = nktest.run("serve", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"--idle-timeout", r.stdout)
        r = nktest.run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^netkit \d+\.\d+\.\d+")

    def test_plugins_listing(self):
        r = nktest.run("plugins")
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        self.assertRegex(out, r"raw +1\.0\.0 +tcp,udp")
        self.assertRegex(out, r"framed +1\.0\.0 +tcp,udp")
        r = nktest.run("plugins", "framed")
        self.assertEqual(r.returncode, 0)
        for opt in (b"prefix", b"max_frame", b"length_bytes", b"byte_order"):
            self.assertIn(opt, r.stdout)


if __name__ == "__main__":
    nktest.main()
