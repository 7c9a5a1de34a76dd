"""TLS on a listener: openssl s_client and Python's ssl module as real
clients of the framed, raw and line plugins; client certificates accepted
and refused; ALPN and SNI chosen; resumption by ticket; the handshake
deadline; garbage in place of a ClientHello costs that connection only;
the TLS counters; TLS behind a PROXY header."""
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import unittest

import nktest
from nktest import Server, config_file, frame, recv_frame, recv_line
from tlscerts import Certs

CERTS = None


def setUpModule():
    global CERTS
    CERTS = Certs()


def tearDownModule():
    CERTS.close()


def cert_args(name="srv"):
    return ["--tls-cert", CERTS.path(name + ".pem"), "--tls-key",
            CERTS.path(name + ".key")]


def client_ctx(cert=None, alpn=None):
    ctx = ssl.create_default_context(cafile=CERTS.path("ca.pem"))
    if cert:
        ctx.load_cert_chain(CERTS.path(cert + ".pem"), CERTS.path(cert + ".key"))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, ctx=None, name="localhost", session=None):
    raw = nktest.connect("127.0.0.1", port)
    return (ctx or client_ctx()).wrap_socket(raw, server_hostname=name,
                                             session=session)


def closed(s):
    try:
        return s.recv(100) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def tls_config(extra="", proto="framed"):
    return ("[listen.main]\nproto = %s\nhost = 127.0.0.1\nport = 0\n"
            "tls_cert = %s\ntls_key = %s\n%s"
            % (proto, CERTS.path("srv.pem"), CERTS.path("srv.key"), extra))


def s_client(port, data, *extra):
    """openssl s_client: send data, read until the server closes."""
    return subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile",
         CERTS.path("ca.pem"), "-verify_return_error", "-verify_hostname",
         "localhost", "-quiet"] + list(extra),
        input=data, capture_output=True, timeout=nktest.DEADLINE)


class TlsServeTest(unittest.TestCase):
    def test_python_ssl_framed(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    *cert_args()) as srv:
            with tls_connect(srv.port()) as s:
                self.assertEqual(s.version(), "TLSv1.3")
                for i in range(3):
                    s.sendall(frame(b"hi %d" % i))
                    self.assertEqual(recv_frame(s), b"echo : hi %d" % i)
                # A message larger than a TLS record (16 KiB) crosses
                # several records both ways.
                big = bytes(range(256)) * 1000
                s.sendall(frame(big))
                self.assertEqual(recv_frame(s), b"echo : " + big)
            srv.wait_for(re.compile(r"Connection from 127\.0\.0\.1:\d+ "
                                    r"\[cli\] \(TLSv1\.3\)"))
            srv.wait_for("TLS offload: kTLS")
            self.assertEqual(srv.stop(), 0)

    def test_s_client_line_and_raw(self):
        with Server("-p", "line", "-P", "0", "-H", "127.0.0.1",
                    *cert_args()) as srv:
            # `exit` ends the session: the server closes, s_client ends.
            r = s_client(srv.port(), b"hello\nexit\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"echo : hello\n")
            self.assertEqual(srv.stop(), 0)
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                    *cert_args()) as srv:
            # raw echoes each chunk; the chunk `exit` closes.
            p = subprocess.Popen(
                ["openssl", "s_client", "-connect", "127.0.0.1:%d"
                 % srv.port(), "-CAfile", CERTS.path("ca.pem"),
                 "-verify_return_error", "-quiet"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL)
            try:
                p.stdin.write(b"hello")
                p.stdin.flush()
                want = b">Server echo : hello"
                self.assertEqual(p.stdout.read(len(want)), want)
                p.stdin.write(b"exit")
                p.stdin.flush()
                self.assertEqual(p.stdout.read(), b"")  # the server closed
                self.assertEqual(p.wait(nktest.DEADLINE), 0)
            finally:
                if p.poll() is None:
                    p.kill()
                p.wait()
                p.stdin.close()
                p.stdout.close()
            self.assertEqual(srv.stop(), 0)

    def test_tls12_only_client(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    *cert_args()) as srv:
            ctx = client_ctx()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with tls_connect(srv.port(), ctx) as s:
                self.assertEqual(s.version(), "TLSv1.2")
                s.sendall(frame(b"x"))
                self.assertEqual(recv_frame(s), b"echo : x")
            self.assertEqual(srv.stop(), 0)

    def test_min_version_13_refuses_12(self):
        with config_file(tls_config("tls_min_version = 1.3\n")) as path, \
                Server("-c", path) as srv:
            ctx = client_ctx()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with self.assertRaises(ssl.SSLError):
                tls_connect(srv.port(), ctx)
            srv.wait_for(re.compile(r"Refused 127\.0\.0\.1:\d+ on "
                                    r"\[listen\.main\]: TLS handshake: "
                                    r"unsupported protocol"))
            self.assertEqual(srv.stop(), 0)

    def test_client_certificate_required(self):
        extra = "tls_ca = %s\ntls_verify = require\n" % CERTS.path("ca.pem")
        with config_file(tls_config(extra)) as path, \
                Server("-c", path) as srv:
            with tls_connect(srv.port(), client_ctx("alice")) as s:
                s.sendall(frame(b"hi"))
                self.assertEqual(recv_frame(s), b"echo : hi")
            srv.wait_for("(TLSv1.3, client CN=alice,O=Example)")
            # No certificate, then one from a CA the server does not trust:
            # TLS 1.3 reports the refusal after the client's Finished, so
            # the client sees it on its first read.
            for who in (None, "mallory"):
                try:
                    with tls_connect(srv.port(), client_ctx(who)) as s:
                        s.sendall(frame(b"hi"))
                        self.assertTrue(closed(s))
                except (ssl.SSLError, ConnectionResetError):
                    pass
            srv.wait_for("TLS handshake: peer did not return a certificate")
            srv.wait_for("TLS handshake: certificate verify failed "
                         "(unable to get local issuer certificate)")
            srv.proc.send_signal(signal.SIGUSR1)
            srv.wait_for(re.compile(r"tls failed 2 \(cert 2\)"))
            self.assertEqual(srv.stop(), 0)

    def test_client_certificate_optional(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    *cert_args(), "--tls-ca", CERTS.path("ca.pem"),
                    "--tls-verify", "optional") as srv:
            for who in (None, "alice"):
                with tls_connect(srv.port(), client_ctx(who)) as s:
                    s.sendall(frame(b"hi"))
                    self.assertEqual(recv_frame(s), b"echo : hi")
            srv.wait_for(re.compile(r"\[cli\] \(TLSv1\.3\)$"))
            srv.wait_for("client CN=alice,O=Example")
            self.assertEqual(srv.stop(), 0)

    def test_alpn(self):
        with config_file(tls_config("tls_alpn = h2,http/1.1\n")) as path, \
                Server("-c", path) as srv:
            # The server's order decides among what the client offers.
            for offer, chosen in ((["http/1.1"], "http/1.1"),
                                  (["http/1.1", "h2"], "h2")):
                with tls_connect(srv.port(), client_ctx(alpn=offer)) as s:
                    self.assertEqual(s.selected_alpn_protocol(), chosen)
                    s.sendall(frame(b"a"))
                    self.assertEqual(recv_frame(s), b"echo : a")
                srv.wait_for("ALPN %s)" % chosen)
            # Nothing in common: no_application_protocol (RFC 7301).
            with self.assertRaises(ssl.SSLError) as cm:
                tls_connect(srv.port(), client_ctx(alpn=["imap"]))
            self.assertIn("no application protocol", str(cm.exception))
            # No ALPN offered at all: served, no protocol.
            with tls_connect(srv.port()) as s:
                self.assertIsNone(s.selected_alpn_protocol())
            srv.proc.send_signal(signal.SIGUSR1)
            srv.wait_for(re.compile(r"tls failed 1 \(alpn 1\)"))
            self.assertEqual(srv.stop(), 0)

    def test_sni_picks_the_certificate(self):
        extra = "tls_cert = %s\ntls_key = %s\n" % (CERTS.path("other.pem"),
                                                   CERTS.path("other.key"))
        with config_file(tls_config(extra)) as path, \
                Server("-c", path) as srv:
            for name, cn in (("other.test", "other.test"),
                             ("localhost", "localhost"),
                             ("unknown.test", "localhost")):
                ctx = client_ctx()
                if name == "unknown.test":  # the default: not its name
                    ctx.check_hostname = False
                with tls_connect(srv.port(), ctx, name=name) as s:
                    subject = dict(x[0] for x in s.getpeercert()["subject"])
                    self.assertEqual(subject["commonName"], cn)
                    s.sendall(frame(b"n"))
                    self.assertEqual(recv_frame(s), b"echo : n")
            self.assertEqual(srv.stop(), 0)

    def test_resumption_with_a_ticket(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    *cert_args()) as srv:
            ctx = client_ctx()
            with tls_connect(srv.port(), ctx) as s:
                s.sendall(frame(b"1"))
                self.assertEqual(recv_frame(s), b"echo : 1")  # ticket read
                session = s.session
                self.assertFalse(s.session_reused)
            with tls_connect(srv.port(), ctx, session=session) as s:
                self.assertTrue(s.session_reused)
                s.sendall(frame(b"2"))
                self.assertEqual(recv_frame(s), b"echo : 2")
            srv.wait_for("(TLSv1.3, resumed)")
            # TLS 1.2 resumes by ticket too.
            ctx12 = client_ctx()
            ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
            with tls_connect(srv.port(), ctx12) as s:
                session = s.session
            with tls_connect(srv.port(), ctx12, session=session) as s:
                self.assertTrue(s.session_reused)
                s.sendall(frame(b"3"))
                self.assertEqual(recv_frame(s), b"echo : 3")
            srv.wait_for("(TLSv1.2, resumed)")
            srv.proc.send_signal(signal.SIGUSR1)
            srv.wait_for("tls 4 (1.2 2, 1.3 2, resumed 2), tls failed 0")
            self.assertEqual(srv.stop(), 0)

    def test_resumption_across_workers(self):
        # Two workers, each with its own socket (SO_REUSEPORT): the ticket
        # keys are the process's, so a ticket from one resumes on either.
        with Server("-w", "2", "-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    *cert_args()) as srv:
            ctx = client_ctx()
            with tls_connect(srv.port(), ctx) as s:
                s.sendall(frame(b"0"))
                self.assertEqual(recv_frame(s), b"echo : 0")
                session = s.session
            for i in range(12):
                with tls_connect(srv.port(), ctx, session=session) as s:
                    self.assertTrue(s.session_reused, i)
                    s.sendall(frame(b"%d" % i))
                    self.assertEqual(recv_frame(s), b"echo : %d" % i)
            srv.proc.send_signal(signal.SIGUSR1)
            srv.wait_for("tls 13 (1.2 0, 1.3 13, resumed 12)")
            self.assertEqual(srv.stop(), 0)

    def test_handshake_deadline_and_garbage(self):
        extra = "tls_handshake_timeout = 1\n"
        with config_file(tls_config(extra)) as path, \
                Server("-c", path) as srv:
            good = tls_connect(srv.port())
            good.sendall(frame(b"before"))
            self.assertEqual(recv_frame(good), b"echo : before")
            silent = nktest.connect("127.0.0.1", srv.port())
            half = nktest.connect("127.0.0.1", srv.port())
            # The first 40 bytes of a real ClientHello: a record header
            # announcing more than ever comes.
            hello = ssl.MemoryBIO()
            obj = client_ctx().wrap_bio(ssl.MemoryBIO(), hello,
                                        server_hostname="localhost")
            with self.assertRaises(ssl.SSLWantReadError):
                obj.do_handshake()
            half.sendall(hello.read()[:40])
            garbage = nktest.connect("127.0.0.1", srv.port())
            garbage.sendall(b"GET / HTTP/1.0\r\n\r\n")
            # Garbage is refused at once; the other two at the deadline.
            self.assertTrue(closed(garbage))
            start = time.monotonic()
            self.assertTrue(closed(silent))
            self.assertTrue(closed(half))
            self.assertLess(time.monotonic() - start, nktest.DEADLINE)
            srv.wait_count("no TLS handshake within tls_handshake_timeout", 2)
            srv.wait_for("TLS handshake: http request")
            # The connection made before is still served.
            good.sendall(frame(b"after"))
            self.assertEqual(recv_frame(good), b"echo : after")
            good.close()
            for s in (silent, half, garbage):
                s.close()
            srv.proc.send_signal(signal.SIGUSR1)
            srv.wait_for(re.compile(r"tls failed 3 \(protocol 1, "
                                    r"timeout 2\)"))
            self.assertEqual(srv.stop(), 0)

    def test_metrics(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "--metrics", "127.0.0.1:0", *cert_args()) as srv:
            with tls_connect(srv.port()) as s:
                s.sendall(frame(b"m"))
                self.assertEqual(recv_frame(s), b"echo : m")
            m = srv.wait_for(re.compile(r"Metrics on http://127\.0\.0\.1:"
                                        r"(\d+)/metrics"))
            text = ""
            end = time.monotonic() + nktest.DEADLINE
            while 'version="1.3"} 1' not in text and \
                    time.monotonic() < end:
                r = subprocess.run(["curl", "-s", "http://127.0.0.1:%s/"
                                    "metrics" % m.group(1)],
                                   capture_output=True, timeout=10)
                text = r.stdout.decode()
            self.assertIn('netkit_tls_handshakes_total{listener="cli",'
                          'version="1.3"} 1', text)
            self.assertIn('netkit_tls_handshake_failures_total{listener='
                          '"cli",reason="timeout"} 0', text)
            lint = subprocess.run(["promtool", "check", "metrics"],
                                  input=text.encode(), capture_output=True,
                                  timeout=nktest.DEADLINE)
            self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)
            self.assertEqual(srv.stop(), 0)

    def test_proxy_header_then_tls(self):
        extra = "proxy_protocol = v1\n"
        with config_file(tls_config(extra)) as path, \
                Server("-c", path) as srv:
            # By hand: the header and the ClientHello in one segment.
            raw = nktest.connect("127.0.0.1", srv.port())
            raw.sendall(b"PROXY TCP4 10.1.2.3 127.0.0.1 40000 9999\r\n")
            with client_ctx().wrap_socket(raw,
                                          server_hostname="localhost") as s:
                s.sendall(frame(b"p"))
                self.assertEqual(recv_frame(s), b"echo : p")
            srv.wait_for("Connection from 10.1.2.3:40000 [main] (TLSv1.3)")
            r = nktest.run("connect", "-p", "framed", "--proxy-protocol", "v1",
                           "--tls", "--tls-ca", CERTS.path("ca.pem"),
                           "--tls-sni", "localhost", "-m", "q", "127.0.0.1",
                           str(srv.port()))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"echo : q\n")
            self.assertEqual(srv.stop(), 0)

    def test_plugin_sees_subject_alpn_and_sni(self):
        fixtures = os.path.join(os.path.dirname(nktest.NETKIT), "tests",
                                "fixtures", "plugins")
        with Server("-L", fixtures, "-p", "tlsinfo", "-P", "0", "-H",
                    "127.0.0.1", *cert_args(), "--tls-ca",
                    CERTS.path("ca.pem"), "--tls-verify", "optional",
                    "--tls-alpn", "h2,http/1.1") as srv:
            ctx = client_ctx("alice", alpn=["h2"])
            with tls_connect(srv.port(), ctx) as s:
                s.sendall(b"?\n")
                self.assertEqual(recv_line(s),
                                 b"TLSv1.3 alpn=h2 sni=localhost "
                                 b"subject=CN=alice,O=Example resumed=0\n")
                session = s.session
            with tls_connect(srv.port(), client_ctx(), name="127.0.0.1") as s:
                s.sendall(b"?\n")
                self.assertEqual(recv_line(s), b"TLSv1.3 alpn=- sni=- "
                                               b"subject=- resumed=0\n")
            with tls_connect(srv.port(), ctx, session=session) as s:
                s.sendall(b"?\n")
                self.assertTrue(recv_line(s).endswith(b" resumed=1\n"))
            self.assertEqual(srv.stop(), 0)
        with Server("-L", fixtures, "-p", "tlsinfo", "-P", "0", "-H",
                    "127.0.0.1") as srv:
            with nktest.connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"?\n")
                self.assertEqual(recv_line(s),
                                 b"no tls (no such file or directory)\n")
            self.assertEqual(srv.stop(), 0)

    def test_handshake_flood_within_the_memory_budget(self):
        # Each handshake under way is charged against max_buffer_memory
        # (1 MiB here: about 20 of them); past it the server closes them,
        # not the established session, which holds no buffer.
        text = "[netkit]\nmax_buffer_memory = 1M\n" + tls_config()
        with config_file(text) as path, Server("-c", path) as srv:
            good = tls_connect(srv.port())
            good.sendall(frame(b"before"))
            self.assertEqual(recv_frame(good), b"echo : before")
            hello = ssl.MemoryBIO()
            obj = client_ctx().wrap_bio(ssl.MemoryBIO(), hello,
                                        server_hostname="localhost")
            with self.assertRaises(ssl.SSLWantReadError):
                obj.do_handshake()
            first = hello.read()[:60]
            flood = []
            for _ in range(60):
                s = nktest.connect("127.0.0.1", srv.port())
                s.sendall(first)
                flood.append(s)
            # 60 x 48 KiB against 1 MiB: at least 30 closed by the budget.
            srv.wait_count("which holds 49152", 30)
            good.sendall(frame(b"after"))
            self.assertEqual(recv_frame(good), b"echo : after")
            for s in flood + [good]:
                s.close()
            self.assertEqual(srv.stop(), 0)

    def test_many_clients_at_once(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    *cert_args()) as srv:
            port = srv.port()

            def client(i):
                with tls_connect(port) as s:
                    for j in range(5):
                        s.sendall(frame(b"%d-%d" % (i, j)))
                        if recv_frame(s) != b"echo : %d-%d" % (i, j):
                            return "wrong reply"
                return "ok"
            res = nktest.concurrently(20, client)
            self.assertEqual(set(res.values()), {"ok"}, res)
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
