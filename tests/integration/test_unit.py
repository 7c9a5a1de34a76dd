"""The shipped systemd units (dist/systemd/), as an operator meets them:
systemd-analyze finds nothing to say about them, systemd's SIGKILL
(TimeoutStopSec) comes only after netkit's own drain deadline, and
`systemctl reload` -- each ExecReload command in order, stopping at the
first that fails, as systemd runs them -- fails on a broken config without
signalling netkit, and reloads a good one.  The unit is configured here as
`make install` does it, with this build's binary and a temporary config
directory."""
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import unittest

import nktest
from nktest import DEADLINE, NETKIT, SRCDIR, Server

UNITS = os.path.join(SRCDIR, "dist", "systemd")
ANALYZE = shutil.which("systemd-analyze")


def drain_seconds():
    """The drain deadline the code has (core/serve/server.c)."""
    with open(os.path.join(SRCDIR, "core", "serve", "server.c")) as f:
        m = re.search(r"#define SERVE_DRAIN_MS\s+(\d+)", f.read())
    return int(m.group(1)) / 1000.0


def settings(unit):
    """Each KEY=VALUE line of a unit: {key: [values, in order]}."""
    out = {}
    for line in unit.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def seconds(value):
    """A systemd time span of the forms the unit uses: 20, 20s, 1min."""
    m = re.fullmatch(r"(\d+)(s|sec|min)?", value)
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


class UnitTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="netkit-unit-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.etc = os.path.join(self.dir, "etc")
        os.makedirs(os.path.join(self.etc, "netkit"))
        self.ini = os.path.join(self.etc, "netkit", "netkit.ini")
        with open(os.path.join(UNITS, "netkit.service.in")) as f:
            self.unit = (f.read()
                         .replace("@NK_BINDIR@", os.path.dirname(NETKIT))
                         .replace("@NK_SYSCONFDIR@", self.etc))
        self.conf = settings(self.unit)

    def write_config(self, text):
        with open(self.ini, "w") as f:
            f.write(text)

    def test_stop_timeout_outlasts_the_drain(self):
        # SIGTERM drains for at most SERVE_DRAIN_MS; systemd's SIGKILL
        # comes TimeoutStopSec after SIGTERM: it must come later, with time
        # to close what is left and exit.
        self.assertEqual(self.conf["KillSignal"], ["SIGTERM"])
        stop = seconds(self.conf["TimeoutStopSec"][-1])
        self.assertGreater(stop, drain_seconds() + 1)

    def test_drain_named_as_the_code_has_it(self):
        # Every text that states the drain states the code's value: the
        # docs, the config, the units, and the comments of the code and
        # the tests.
        drain = drain_seconds()
        self.assertEqual(drain, 10)  # the words below say "10"
        wrong = re.compile(r"two[- ]second|two seconds|"
                           r"drain[^.\n]{0,30}\b2 ?s(ec(ond)?s?)?\b|"
                           r"\b2 ?s(ec(ond)?s?)?\b[^.\n]{0,30}drain")
        files = ["README.md", "docs/netkit.1", "dist/systemd/netkit.service.in",
                 "conf/netkit.ini"]
        for top in ("core", "docs", "tests/integration"):
            for d, _, names in os.walk(os.path.join(SRCDIR, top)):
                files += [os.path.relpath(os.path.join(d, n), SRCDIR)
                          for n in names if n.endswith((".c", ".h", ".md",
                                                        ".py", ".1"))
                          and n != "test_unit.py"]
        for rel in files:
            with open(os.path.join(SRCDIR, rel), errors="replace") as f:
                m = wrong.search(f.read())
            self.assertIsNone(m, "%s: %r" % (rel, m and m.group(0)))
        with open(os.path.join(SRCDIR, "dist/systemd/netkit.service.in")) as f:
            self.assertIn("drains replies for at most 10 seconds", f.read())

    @unittest.skipUnless(ANALYZE, "systemd-analyze not installed")
    def test_systemd_analyze_verify(self):
        # systemd's own reading of both units: no unknown key, no value it
        # ignores, every command executable.
        with open(os.path.join(self.dir, "netkit.service"), "w") as f:
            f.write(self.unit)
        shutil.copy(os.path.join(UNITS, "netkit.socket"), self.dir)
        p = subprocess.run(
            [ANALYZE, "verify", os.path.join(self.dir, "netkit.service"),
             os.path.join(self.dir, "netkit.socket")],
            capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""))

    def reload(self, pid):
        """`systemctl reload`: each ExecReload in order, with $MAINPID,
        until one fails.  Returns (status, stderr) of the last one run."""
        for line in self.conf["ExecReload"]:
            argv = [a.replace("$MAINPID", str(pid))
                    for a in shlex.split(line.lstrip("-@:+!"))]
            p = subprocess.run(argv, capture_output=True, timeout=DEADLINE,
                               env=dict(os.environ, **nktest.ISOLATED))
            if p.returncode != 0:
                return p.returncode, p.stdout, p.stderr
        return 0, b"", b""

    def test_reload_fails_on_a_broken_config(self):
        good = ("[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n"
                "[plugin.framed]\nprefix = \"%s\"\n")
        self.write_config(good % "one: ")
        # ExecStart as the unit has it.
        start = shlex.split(self.conf["ExecStart"][0])
        self.assertEqual(start[:2], [NETKIT, "serve"])
        self.assertIn(self.ini, start)
        with Server(*start[2:]) as srv:
            port = srv.port()
            # A broken config: the reload fails with netkit's one line,
            # and netkit is never signalled.
            self.write_config("[listen.main]\nproto = framed\nport = many\n")
            rc, out, err = self.reload(srv.proc.pid)
            self.assertEqual(rc, 2, err)
            self.assertEqual(out, b"")
            lines = err.decode().splitlines()
            self.assertEqual(len(lines), 1, err)
            self.assertTrue(lines[0].startswith("netkit: %s:3: " % self.ini),
                            lines[0])
            # A good one: checked quietly (-q: nothing on stdout, nothing
            # for the journal), then reloaded.
            self.write_config(good % "two: ")
            self.assertEqual(self.reload(srv.proc.pid), (0, b"", b""))
            srv.wait_for("Reloaded")
            # One SIGHUP in all: the failed reload sent none.
            self.assertEqual(srv.stderr().count("Reloading (SIGHUP)"), 1,
                             srv.stderr())
            with nktest.connect("127.0.0.1", port) as s:
                s.sendall(nktest.frame(b"x"))
                self.assertEqual(nktest.recv_frame(s), b"two: x")
            self.assertEqual(srv.stop(), 0, srv.stderr())


if __name__ == "__main__":
    nktest.main()
