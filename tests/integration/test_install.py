"""`make install PREFIX=...` and `make uninstall`, as a user runs them.

The install goes into a temporary prefix that already holds a file of its
own.  It must hold the netkit(1) manual (which renders with `man -l`), the
plugin guide, the example's sources and the test kit; the example and its
tests are built from the installed copy with pkg-config alone (CMake and
ctest, then the Makefile's `make check`), checked with `netkit check` and
served over TCP by the installed netkit.  `make uninstall` then leaves the
prefix exactly as it was.  A second install with DESTDIR stages everything
under DESTDIR + PREFIX, but the config, which goes where GNUInstallDirs
puts it (/etc for /usr, /etc/opt/NAME for /opt/NAME).  netkit.ini is a
conffile: installed twice, an edited one is kept (install and uninstall
alike), and netkit.ini.default beside it is the shipped one.  The paths
the installed plugin.h and plugin guide point at are installed.

Environment: NK_BUILDDIR (the main build tree), plus nktest's NETKIT and
NK_SRCDIR.  ctest runs this test alone (RUN_SERIAL): make reconfigures the
build tree the other tests use.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import nktest
from nktest import SRCDIR, Server, connect

BUILDDIR = os.environ.get("NK_BUILDDIR") or os.path.join(SRCDIR, "build")
STEP_TIMEOUT = 300


def step(cmd, cwd=None, env=None):
    full = dict(os.environ)
    # Not the jobserver of a make that may be running ctest.
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DESTDIR"):
        full.pop(k, None)
    full.update(env or {})
    p = subprocess.run(cmd, cwd=cwd, env=full, capture_output=True,
                       timeout=STEP_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (
            " ".join(cmd), p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace")))
    return p.stdout.decode("utf-8", "replace")


def snapshot(top):
    """Every path under top, with its type: what `as it was` means."""
    seen = set()
    for d, dirs, files in os.walk(top):
        for n in dirs:
            seen.add((os.path.relpath(os.path.join(d, n), top), "d"))
        for n in files:
            seen.add((os.path.relpath(os.path.join(d, n), top), "f"))
    return seen


def make(*args):
    return step(["make", "-C", SRCDIR, "BUILD=" + BUILDDIR] + list(args))


def recv_line(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="netkit-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        cls.record = os.path.join(cls.tmp, "record")
        os.makedirs(os.path.join(cls.prefix, "share"))
        nktest.write(os.path.join(cls.prefix, "share"), "mine.txt", "mine\n")
        cls.before = snapshot(cls.prefix)
        make("install", "PREFIX=" + cls.prefix, "RECORD=" + cls.record)
        cls.installed = snapshot(cls.prefix)
        cls.netkit = os.path.join(cls.prefix, "bin", "netkit")
        cls.doc = os.path.join(cls.prefix, "share", "doc", "netkit")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_files(self):
        for f in ("bin/netkit", "lib/netkit/plugins/raw.so",
                  "lib/netkit/plugins/framed.so", "include/netkit/plugin.h",
                  "etc/netkit/netkit.ini", "etc/netkit/netkit.ini.default",
                  "share/pkgconfig/netkit.pc",
                  "share/doc/netkit/plugins/raw.c",
                  "share/doc/netkit/plugins/framed.c",
                  "share/doc/netkit/plugins/line.c",
                  "include/netkit/testkit.h",
                  "share/pkgconfig/netkit-testkit.pc",
                  "share/man/man1/netkit.1",
                  "share/doc/netkit/plugin-guide.md",
                  "share/doc/netkit/README.md",
                  "share/doc/netkit/examples/plugin-out-of-tree/upper.c",
                  "share/doc/netkit/examples/plugin-out-of-tree/"
                  "CMakeLists.txt",
                  "share/doc/netkit/examples/plugin-out-of-tree/Makefile",
                  "share/doc/netkit/examples/plugin-out-of-tree/"
                  "test_upper.c"):
            self.assertIn((f, "f"), self.installed, f)
        # Nothing outside the prefix: every new path is under it.
        r = subprocess.run([self.netkit, "--version"], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_2_manual_renders(self):
        page = os.path.join(self.prefix, "share", "man", "man1", "netkit.1")
        out = step(["man", "-l", page], env={"MANWIDTH": "80",
                                             "MANPAGER": "cat",
                                             "PAGER": "cat"})
        for word in ("NETKIT(1)", "SYNOPSIS", "netkit check", "EXIT STATUS",
                     "SIGNALS", "NETKIT_CONFIG", "[listen.NAME]",
                     "--idle-timeout", "--plugin-opt"):
            self.assertIn(word, out)
        # groff finds nothing to warn about.
        p = subprocess.run(["groff", "-man", "-ww", "-z", page],
                           capture_output=True)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        # It names as many shipped plugins as are installed, each by name.
        plugins = sorted(f[:-3] for f in os.listdir(os.path.join(
            self.prefix, "lib", "netkit", "plugins")) if f.endswith(".so"))
        para = re.search(r"(\w+) plugins are shipped:(.*?)\n\s*\n", out,
                         re.S)
        self.assertIsNotNone(para, "no 'N plugins are shipped:' paragraph")
        words = ["Zero", "One", "Two", "Three", "Four", "Five", "Six"]
        self.assertEqual(para.group(1), words[len(plugins)], plugins)
        for name in plugins:
            self.assertRegex(para.group(2), r"\b%s\b" % name)

    def test_2_pointers_are_installed(self):
        # What the installed header and guide point at is installed too,
        # relative to share/doc/netkit (where the guide is).
        with open(os.path.join(self.prefix, "include", "netkit",
                               "plugin.h")) as f:
            header = f.read()
        named = set(re.findall(r"\b((?:plugins|examples)/[\w./-]*\w|"
                               r"plugin-guide\.md)\b", header))
        self.assertIn("plugins/raw.c", named)
        self.assertIn("plugin-guide.md", named)
        with open(os.path.join(self.doc, "plugin-guide.md")) as f:
            guide = f.read()
        for p in re.findall(r"`((?:plugins|examples)/[^`\s]+)`", guide):
            if p != "plugins/":  # the runtime directory beside the binary
                named.add(p.rstrip("/"))
        for p in sorted(named):
            self.assertTrue(os.path.exists(os.path.join(self.doc, p)), p)
        for p in re.findall(r"`(include/netkit/[\w.]+)`", guide):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, p)), p)
        # Source-tree paths say so.
        for m in re.finditer(r"`tests/integration/\w+\.py`", guide):
            self.assertRegex(guide[max(0, m.start() - 80):m.end() + 40],
                             r"source tree", m.group(0))

    def test_3_example_from_installed_docs(self):
        # The installed example, built with pkg-config alone.
        build = os.path.join(self.tmp, "upper")
        src = os.path.join(self.doc, "examples", "plugin-out-of-tree")
        env = {"PKG_CONFIG_PATH": os.path.join(self.prefix, "share",
                                               "pkgconfig")}
        step(["cmake", "-S", src, "-B", build, "-DCMAKE_C_FLAGS=-Werror"],
             env=env)
        step(["cmake", "--build", build], env=env)
        # Its tests, built with the installed test kit, pass.
        step(["ctest", "--test-dir", build, "--output-on-failure"], env=env)
        check = os.path.join(self.tmp, "upper-check")
        os.makedirs(check)
        out = step(["make", "-f", os.path.join(src, "Makefile"),
                    "CFLAGS=-O2 -Wall -Wextra -Werror", "check"], cwd=check,
                   env=env)
        self.assertIn("ok 4 - options", out)
        r = subprocess.run([self.netkit, "check", "-L", build, "upper"],
                           capture_output=True, timeout=120,
                           env=dict(os.environ, NETKIT_CONFIG=""))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Served by the installed netkit over TCP.
        saved, nktest.NETKIT = nktest.NETKIT, self.netkit
        try:
            with Server("-L", build, "-p", "upper", "-P", "0", "-H",
                        "127.0.0.1") as srv:
                with connect("127.0.0.1", srv.port()) as s:
                    s.sendall(b"hello\n")
                    self.assertEqual(recv_line(s), b"HELLO\n")
                self.assertEqual(srv.stop(), 0, srv.stderr())
        finally:
            nktest.NETKIT = saved

    def test_4_installed_plugins_found(self):
        r = subprocess.run([self.netkit, "plugins"], capture_output=True,
                           env=dict(os.environ, NETKIT_CONFIG=""))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(os.path.join(self.prefix, "bin", "..", "lib", "netkit",
                                   "plugins", "raw.so").encode(), r.stdout)

    def test_5_uninstall_restores_prefix(self):
        make("uninstall", "RECORD=" + self.record)
        self.assertEqual(snapshot(self.prefix), self.before)
        # Twice: nothing left to remove is a clear error.
        with self.assertRaises(AssertionError) as e:
            make("uninstall", "RECORD=" + self.record)
        self.assertIn("netkit: nothing to uninstall", str(e.exception))

    def test_6_destdir(self):
        stage = os.path.join(self.tmp, "stage")
        record = os.path.join(self.tmp, "record-stage")
        make("install", "PREFIX=/opt/netkit", "DESTDIR=" + stage,
             "RECORD=" + record)
        root = os.path.join(stage, "opt", "netkit")
        for f in ("bin/netkit", "share/man/man1/netkit.1",
                  "share/doc/netkit/plugin-guide.md"):
            self.assertTrue(os.path.isfile(os.path.join(root, f)), f)
        # The config of /opt/netkit is in /etc/opt/netkit (GNUInstallDirs),
        # and the unit reads it there.
        etc = os.path.join(stage, "etc", "opt", "netkit", "netkit")
        self.assertTrue(os.path.isfile(os.path.join(etc, "netkit.ini")))
        self.assertEqual(sorted(os.listdir(stage)), ["etc", "opt"])
        with open(os.path.join(root, "lib", "systemd", "system",
                               "netkit.service")) as f:
            self.assertIn("\nExecStart=/opt/netkit/bin/netkit serve -c "
                          "/etc/opt/netkit/netkit/netkit.ini\n", f.read())
        make("uninstall", "RECORD=" + record)
        self.assertFalse(os.path.exists(stage))

    def test_7_usr_twice_keeps_edited_config(self):
        # PREFIX=/usr: the config in /etc/netkit, not /usr/etc; installed
        # again over an edited netkit.ini, the edit stays and the shipped
        # file is netkit.ini.default; uninstall keeps the edited file only.
        stage = os.path.join(self.tmp, "stage-usr")
        record = os.path.join(self.tmp, "record-usr")
        args = ("install", "PREFIX=/usr", "DESTDIR=" + stage,
                "RECORD=" + record)
        make(*args)
        etc = os.path.join(stage, "etc", "netkit")
        ini = os.path.join(etc, "netkit.ini")
        with open(os.path.join(SRCDIR, "conf", "netkit.ini")) as f:
            shipped = f.read()
        for name in ("netkit.ini", "netkit.ini.default"):
            with open(os.path.join(etc, name)) as f:
                self.assertEqual(f.read(), shipped, name)
        self.assertFalse(os.path.exists(os.path.join(stage, "usr", "etc")))
        self.assertEqual(sorted(os.listdir(stage)), ["etc", "usr"])
        with open(os.path.join(stage, "usr", "lib", "systemd", "system",
                               "netkit.service")) as f:
            unit = f.read()
        self.assertIn("\nExecStart=/usr/bin/netkit serve -c "
                      "/etc/netkit/netkit.ini\n", unit)
        self.assertIn("\nExecReload=/usr/bin/netkit serve -t -q -c "
                      "/etc/netkit/netkit.ini\n", unit)
        edited = shipped + "\n# edited by the operator\n"
        with open(ini, "w") as f:
            f.write(edited)
        out = make(*args)
        self.assertIn("-- Kept: %s" % ini, out)
        with open(ini) as f:
            self.assertEqual(f.read(), edited)
        with open(os.path.join(etc, "netkit.ini.default")) as f:
            self.assertEqual(f.read(), shipped)
        out = make("uninstall", "RECORD=" + record)
        self.assertIn("-- Kept (edited): %s" % ini, out)
        self.assertEqual(snapshot(stage), {("etc", "d"), ("etc/netkit", "d"),
                                           ("etc/netkit/netkit.ini", "f")})


if __name__ == "__main__":
    nktest.main()
