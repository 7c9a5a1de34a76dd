"""`netkit connect --tls`: against `openssl s_server` and against
`netkit serve` with TLS; the server's certificate and name are verified by
default (--tls-ca, --tls-sni, --insecure); a client certificate; ALPN;
--stream over TLS."""
import os
import re
import subprocess
import time
import unittest

import nktest
from nktest import Server
from tlscerts import Certs

CERTS = None
ACCEPT_RE = re.compile(rb"ACCEPT 127\.0\.0\.1:(\d+)")


def setUpModule():
    global CERTS
    CERTS = Certs()


def tearDownModule():
    CERTS.close()


class SServer:
    """openssl s_server -rev (answers each line reversed) on a port it
    picks; the port is read from its ACCEPT line under a deadline."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert",
             CERTS.path("srv.pem"), "-key", CERTS.path("srv.key"), "-rev",
             "-naccept", "1"] + list(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.port = None
        end = time.monotonic() + nktest.DEADLINE
        while self.port is None and time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = ACCEPT_RE.search(line)
            if m:
                self.port = int(m.group(1))
        assert self.port is not None, "s_server did not start"

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def connect(*args):
    return nktest.run("connect", *args)


class TlsConnectTest(unittest.TestCase):
    def test_against_s_server(self):
        peer = SServer()
        try:
            r = connect("-p", "line", "--tls", "--tls-ca", CERTS.path("ca.pem"),
                        "-m", "hello", "127.0.0.1", str(peer.port))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"olleh\n")
            self.assertIn(b"server certificate verified", r.stderr)
        finally:
            peer.close()

    def test_s_server_asks_for_a_client_certificate(self):
        peer = SServer("-Verify", "1", "-CAfile", CERTS.path("ca.pem"))
        try:
            r = connect("-p", "line", "--tls-ca", CERTS.path("ca.pem"),
                        "--tls-cert", CERTS.path("alice.pem"), "--tls-key",
                        CERTS.path("alice.key"), "-m", "abc", "127.0.0.1",
                        str(peer.port))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"cba\n")
        finally:
            peer.close()

    def test_verification_by_default(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1", "--tls-cert",
                    CERTS.path("srv.pem"), "--tls-key",
                    CERTS.path("srv.key")) as srv:
            port = str(srv.port())
            ca = CERTS.path("ca.pem")
            # The address's own IP name, and the host name by --tls-sni.
            for extra in ([], ["--tls-sni", "localhost"]):
                r = connect("-p", "framed", "--tls", "--tls-ca", ca, *extra,
                            "-m", "hi", "127.0.0.1", port)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, b"echo : hi\n")
            # Not the certificate's name; not a CA the client trusts.
            r = connect("-p", "framed", "--tls", "--tls-ca", ca, "--tls-sni",
                        "wrong.test", "-m", "hi", "127.0.0.1", port)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"hostname mismatch", r.stderr)
            r = connect("-p", "framed", "--tls", "-m", "hi", "127.0.0.1", port)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"is not trusted", r.stderr)
            self.assertEqual(r.stdout, b"")
            # --insecure: no check at all.
            r = connect("-p", "framed", "--tls", "--insecure", "-m", "hi",
                        "127.0.0.1", port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"echo : hi\n")
            self.assertIn(b"not verified (--insecure)", r.stderr)
            self.assertEqual(srv.stop(), 0)

    def test_client_certificate_and_alpn(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1", "--tls-cert",
                    CERTS.path("srv.pem"), "--tls-key", CERTS.path("srv.key"),
                    "--tls-ca", CERTS.path("ca.pem"), "--tls-verify",
                    "require", "--tls-alpn", "x-netkit,h2") as srv:
            port = str(srv.port())
            r = connect("-p", "framed", "--tls-ca", CERTS.path("ca.pem"),
                        "--tls-cert", CERTS.path("alice.pem"), "--tls-key",
                        CERTS.path("alice.key"), "--tls-alpn", "h2,x-netkit",
                        "-n", "2", "-m", "hi", "127.0.0.1", port)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"echo : hi\necho : hi\n")
            self.assertIn(b"ALPN x-netkit", r.stderr)
            srv.wait_for("(TLSv1.3, ALPN x-netkit, client CN=alice,O=Example)")
            # Without a certificate the server refuses the handshake.
            r = connect("-p", "framed", "--tls-ca", CERTS.path("ca.pem"),
                        "-m", "hi", "127.0.0.1", port)
            self.assertEqual(r.returncode, 1)
            srv.wait_for("peer did not return a certificate")
            self.assertEqual(srv.stop(), 0)

    def test_stream_over_tls(self):
        with Server("-p", "raw", "-P", "0", "-H", "127.0.0.1", "-O",
                    "prefix=", "--tls-cert", CERTS.path("srv.pem"),
                    "--tls-key", CERTS.path("srv.key")) as srv:
            data = bytes(range(256)) * 400  # 100 KiB, several records
            r = nktest.run("connect", "--stream", "--tls", "--tls-ca",
                           CERTS.path("ca.pem"), "127.0.0.1",
                           str(srv.port()), input=data)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, data)
            self.assertEqual(srv.stop(), 0)

    def test_curl_against_an_http_plugin(self):
        fixtures = os.path.join(os.path.dirname(nktest.NETKIT), "tests",
                                "fixtures", "plugins")
        with Server("-L", fixtures, "-p", "http", "-P", "0", "-H",
                    "127.0.0.1", "--tls-cert", CERTS.path("srv.pem"),
                    "--tls-key", CERTS.path("srv.key"), "--tls-alpn",
                    "http/1.1") as srv:
            url = "https://localhost:%d/" % srv.port()
            r = subprocess.run(["curl", "-sS", "--cacert", CERTS.path("ca.pem"),
                                "--resolve", "localhost:%d:127.0.0.1"
                                % srv.port(), url, url],
                               capture_output=True, timeout=nktest.DEADLINE)
            self.assertEqual(r.returncode, 0, r.stderr)
            # Two requests on one connection (keep-alive), both answered.
            self.assertEqual(r.stdout, b"hello over TLSv1.3, alpn http/1.1\n"
                             * 2)
            # Without the CA, curl refuses the certificate.
            r = subprocess.run(["curl", "-sS", "--resolve",
                                "localhost:%d:127.0.0.1" % srv.port(), url],
                               capture_output=True, timeout=nktest.DEADLINE)
            self.assertEqual(r.returncode, 60, r.stderr)
            self.assertEqual(srv.stop(), 0)

    def test_mistakes(self):
        r = connect("-u", "--tls", "-m", "x", "127.0.0.1", "1")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--tls works over tcp only", r.stderr)
        r = connect("--tls-cert", CERTS.path("alice.pem"), "-m", "x",
                    "127.0.0.1", "1")
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    nktest.main()
