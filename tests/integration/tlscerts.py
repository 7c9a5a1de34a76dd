"""Test certificates, made at test time with the openssl command in a
temporary directory (no key is committed): a CA, server certificates for
localhost/127.0.0.1 and for other.test (SNI), a client certificate signed
by the CA, one signed by nobody the server trusts, and a server
certificate that expires in 5 days."""
import os
import subprocess
import tempfile


def _run(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _key(d, name):
    _run("genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


def _signed(d, name, subject, ca, days=30, san=None, usage="serverAuth"):
    _key(d, name)
    _run("req", "-new", "-key", name + ".key", "-subj", subject, "-out",
         name + ".csr", cwd=d)
    ext = "extendedKeyUsage=%s\n" % usage
    if san:
        ext += "subjectAltName=%s\n" % san
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
         ca + ".key", "-CAcreateserial", "-days", str(days), "-extfile",
         name + ".ext", "-out", name + ".pem", cwd=d)


def _ca(d, name, cn):
    _key(d, name)
    _run("req", "-x509", "-new", "-key", name + ".key", "-subj", "/CN=" + cn,
         "-days", "30", "-out", name + ".pem", cwd=d)


class Certs:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = self.dir = self.tmp.name
        _ca(d, "ca", "netkit test CA")
        _ca(d, "evil", "some other CA")
        _signed(d, "srv", "/CN=localhost", "ca",
                san="DNS:localhost,IP:127.0.0.1")
        _signed(d, "other", "/CN=other.test", "ca", san="DNS:other.test")
        _signed(d, "soon", "/CN=localhost", "ca", days=5,
                san="DNS:localhost,IP:127.0.0.1")
        _signed(d, "alice", "/O=Example/CN=alice", "ca", usage="clientAuth")
        _signed(d, "mallory", "/CN=mallory", "evil", usage="clientAuth")

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        self.tmp.cleanup()
