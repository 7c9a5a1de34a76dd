"""The tls_* keys and --tls-* options: every mistake is exit 2 with one
`netkit:` line naming the file and line (a missing or unreadable file, a
key that does not match its certificate, a key others can read, TLS on
UDP, keys in halves, values OpenSSL refuses), and `serve --check` shows
each certificate, that its key matches, and warns of a near expiry."""
import os
import re
import shutil
import signal
import ssl
import threading
import time
import unittest

import nktest
from nktest import config_file
from tlscerts import Certs

CERTS = None


def setUpModule():
    global CERTS
    CERTS = Certs()


def tearDownModule():
    CERTS.close()


def section(extra, cert="srv", key=None):
    key = CERTS.path((key or cert) + ".key")
    return ("[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n"
            "tls_cert = %s\ntls_key = %s\n%s" % (CERTS.path(cert + ".pem"),
                                                 key, extra))


class TlsConfigTest(unittest.TestCase):
    def assert_error(self, text, line, pattern, check=False):
        with config_file(text) as path:
            args = ["serve", "-c", path] + (["--check"] if check else [])
            r = nktest.run(*args)
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, err)
            lines = [l for l in err.splitlines() if l.startswith("netkit:")]
            self.assertEqual(len(lines), 1, err)
            self.assertTrue(lines[0].startswith("netkit: %s:%d: " % (path,
                                                                     line)),
                            err)
            self.assertRegex(lines[0], pattern)

    def test_missing_and_unreadable_files(self):
        missing = os.path.join(CERTS.dir, "nope.pem")
        text = ("[listen.main]\nproto = framed\nport = 0\ntls_cert = %s\n"
                "tls_key = %s\n" % (missing, CERTS.path("srv.key")))
        self.assert_error(text, 4, r"tls_cert .*nope\.pem: No such file")
        self.assert_error(text, 4, r"No such file", check=True)
        self.assert_error(section("", key="nope"), 6,
                          r"tls_key .*nope\.key: No such file")
        self.assert_error(section("tls_ca = %s\ntls_verify = require\n"
                                  % missing), 7, r"tls_ca .*: No such file")

    def test_not_pem(self):
        bogus = os.path.join(CERTS.dir, "bogus.pem")
        with open(bogus, "w") as f:
            f.write("not a certificate\n")
        text = ("[listen.main]\nproto = framed\nport = 0\ntls_cert = %s\n"
                "tls_key = %s\n" % (bogus, CERTS.path("srv.key")))
        self.assert_error(text, 4, r"expected a PEM certificate")

    def test_key_does_not_match(self):
        self.assert_error(section("", key="other"), 6,
                          r"tls_key .*other\.key does not match tls_cert "
                          r".*srv\.pem")

    def test_key_readable_by_others_refused(self):
        loose = os.path.join(CERTS.dir, "loose.key")
        shutil.copy(CERTS.path("srv.key"), loose)
        for mode, who in ((0o644, "readable or writable by others"),
                          (0o604, "readable or writable by others"),
                          (0o660, "writable by its group")):
            os.chmod(loose, mode)
            self.assert_error(section("", key="loose"), 6,
                              r"tls_key .*loose\.key: refused, %s "
                              r"\(mode 0%o\): chmod 600" % (who, mode))
        os.chmod(loose, 0o640)  # a group may read it (ssl-cert)
        with config_file(section("", key="loose")) as path:
            r = nktest.run("serve", "-t", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(loose, 0o644)
        r = nktest.run("serve", "-P", "0", "--tls-cert", CERTS.path("srv.pem"),
                       "--tls-key", loose)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"refused, readable or writable", r.stderr)

    def test_tls_on_udp(self):
        self.assert_error(section("transport = udp\n"), 5,
                          r"tls applies to tcp listeners only")
        r = nktest.run("serve", "-u", "-P", "0", "--tls-cert",
                       CERTS.path("srv.pem"), "--tls-key",
                       CERTS.path("srv.key"))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.count(b"netkit:"), 1, r.stderr)
        self.assertIn(b"apply to TCP listeners only", r.stderr)

    def test_halves_and_combinations(self):
        base = "[listen.main]\nproto = framed\nport = 0\n"
        self.assert_error(base + "tls_cert = %s\n" % CERTS.path("srv.pem"), 4,
                          r"tls_cert .* has no tls_key to go with it")
        self.assert_error(base + "tls = on\n", 4,
                          r"tls needs a certificate: add tls_cert")
        self.assert_error(base + "tls_alpn = h2\n", 4,
                          r"tls needs a certificate")
        self.assert_error(section("tls = off\n"), 5,
                          r"tls is off: remove the tls_\* keys")
        self.assert_error(section("tls_verify = require\n"), 7,
                          r"tls_verify needs tls_ca")
        self.assert_error(section("tls_ca = %s\n" % CERTS.path("ca.pem")), 7,
                          r"tls_ca: no effect without tls_verify")
        self.assert_error(section("tls_verify = maybe\n"), 7,
                          r"tls_verify")
        self.assert_error(section("tls_min_version = 1.1\n"), 7,
                          r"tls_min_version")

    def test_values_openssl_refuses(self):
        self.assert_error(section("tls_ciphers = NOSUCHCIPHER\n"), 7,
                          r"tls_ciphers 'NOSUCHCIPHER': ")
        self.assert_error(section("tls_ciphersuites = TLS_NOPE\n"), 7,
                          r"tls_ciphersuites 'TLS_NOPE': ")
        self.assert_error(section("tls_alpn = h2,,http/1.1\n"), 7,
                          r"tls_alpn: an empty protocol name")
        self.assert_error(section("tls_alpn = h2,\n"), 7,
                          r"tls_alpn: a comma at the end in 'h2,'")

    def test_check_shows_certificates(self):
        extra = ("tls_cert = %s\ntls_key = %s\ntls_alpn = h2,http/1.1\n"
                 % (CERTS.path("soon.pem"), CERTS.path("soon.key")))
        with config_file(section(extra)) as path:
            r = nktest.run("serve", "--check", "-c", path)
        out, err = r.stdout.decode(), r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertRegex(out, r"tls_cert .*srv\.pem \(default\): /CN=localhost"
                              r", names localhost, 127\.0\.0\.1, key matches, "
                              r"expires in (29|30) days")
        self.assertRegex(out, r"tls_cert .*soon\.pem: .*expires in [45] days")
        self.assertIn("ALPN h2,http/1.1", out)
        self.assertRegex(err, r"\[listen\.main\] tls_cert .*soon\.pem expires "
                              r"in [45] days")

    def test_reload_keeps_the_old_certificate_on_a_bad_one(self):
        d = CERTS.dir
        cert, key = os.path.join(d, "live.pem"), os.path.join(d, "live.key")
        shutil.copy(CERTS.path("srv.pem"), cert)
        shutil.copy(CERTS.path("srv.key"), key)
        os.chmod(key, 0o600)
        text = ("[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n"
                "tls_cert = %s\ntls_key = %s\n" % (cert, key))

        def subject(port, name="localhost"):
            ctx = ssl.create_default_context(cafile=CERTS.path("ca.pem"))
            ctx.check_hostname = False
            with ctx.wrap_socket(nktest.connect("127.0.0.1", port),
                                 server_hostname=name) as s:
                s.sendall(nktest.frame(b"r"))
                self.assertEqual(nktest.recv_frame(s), b"echo : r")
                return dict(x[0] for x in s.getpeercert()["subject"])[
                    "commonName"]
        with config_file(text) as path, nktest.Server("-c", path) as srv:
            port = srv.port()
            self.assertEqual(subject(port), "localhost")
            # A certificate with the wrong key: the reload fails, logged,
            # and the old certificate goes on serving.
            shutil.copy(CERTS.path("other.pem"), cert)
            srv.proc.send_signal(signal.SIGHUP)
            srv.wait_for(re.compile(r"Reload failed: .*does not match "
                                    r"tls_cert.*still serving the previous"))
            self.assertEqual(subject(port), "localhost")
            # Its key too: the new certificate serves new connections, and a
            # client looping through the reload sees no connection refused
            # or reset (the socket is kept; open ones finish on the old).
            stop = threading.Event()
            seen, errors = [], []

            def loop():
                end = time.monotonic() + nktest.DEADLINE
                while not stop.is_set() and time.monotonic() < end and \
                        len(seen) < 5000:
                    try:
                        seen.append(subject(port))
                    except Exception as e:  # noqa: BLE001 (counted)
                        errors.append(repr(e))
            t = threading.Thread(target=loop)
            t.start()
            while not seen and t.is_alive():
                time.sleep(0.01)  # polls: the loop's first answer
            shutil.copy(CERTS.path("other.key"), key)
            srv.proc.send_signal(signal.SIGHUP)
            srv.wait_for("Reloaded ")
            end = time.monotonic() + nktest.DEADLINE
            while "other.test" not in seen[-1:] and time.monotonic() < end:
                time.sleep(0.01)  # polls: the new certificate's first use
            stop.set()
            t.join(nktest.DEADLINE)
            self.assertEqual(errors, [])
            self.assertIn("localhost", seen)
            self.assertEqual(seen[-1], "other.test")
            self.assertEqual(subject(port), "other.test")
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
