"""The example plugin of examples/plugin-out-of-tree, built the way a plugin
author builds one: against an installed netkit found through pkg-config,
with no path into the source or build tree; and its tests, built against
the installed test kit (netkit-testkit.pc) and run by ctest and by
`make check`.

oot.Prefix installs the main build tree into a temporary prefix (DESTDIR
keeps it there; test_install_stays_in_prefix reports an install rule with an
absolute destination).  The example is then configured with CMake and built
with its Makefile, and the CMake build is served by the build tree's netkit
with -L.

Environment: NK_BUILDDIR (the main build tree), plus nktest's NETKIT and
NK_SRCDIR.
"""
import os
import unittest

import nktest
import oot
from nktest import Server, connect, recv_line
from oot import exported_functions, step

EXAMPLE = "plugin-out-of-tree"


class OutOfTreeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.oot = oot.Prefix()
        cls.stage, cls.root, cls.env = (cls.oot.stage, cls.oot.root,
                                        cls.oot.env)
        cls.tmp, cls.prefix = cls.oot.tmp, cls.oot.prefix

    @classmethod
    def tearDownClass(cls):
        cls.oot.close()

    @classmethod
    def cmake_build(cls):
        """The example built with CMake (once, by oot.Prefix)."""
        return cls.oot.cmake_build(EXAMPLE)

    def test_install_stays_in_prefix(self):
        # Every installed file is under the prefix given to cmake --install.
        stray = []
        for top, _, files in os.walk(self.stage):
            for f in files:
                path = os.path.join(top, f)
                if not path.startswith(self.root + os.sep):
                    stray.append(path[len(self.stage):])
        self.assertEqual(stray, [], "installed outside --prefix (an "
                         "install rule with an absolute DESTINATION)")
        for f in ("include/netkit/plugin.h", "include/netkit/error.h",
                  "include/netkit/version.h", "include/netkit/testkit.h",
                  "share/pkgconfig/netkit.pc",
                  "share/pkgconfig/netkit-testkit.pc"):
            self.assertTrue(os.path.isfile(os.path.join(self.root, f)), f)

    def test_systemd_units_installed(self):
        # The units go to PREFIX/lib/systemd/system; ExecStart names the
        # binary and config of the prefix installed to; the socket's
        # descriptors are named for the shipped config's [listen.main].
        units = os.path.join(self.root, "lib", "systemd", "system")
        with open(os.path.join(units, "netkit.service")) as f:
            service = f.read()
        self.assertIn("\nType=notify\n", service)
        self.assertIn("\nExecStart=%s/bin/netkit serve -c %s/etc/netkit/"
                      "netkit.ini\n" % (self.prefix, self.prefix), service)
        self.assertNotIn("@", service)
        with open(os.path.join(units, "netkit.socket")) as f:
            self.assertIn("\nFileDescriptorName=main\n", f.read())
        with open(os.path.join(self.root, "etc", "netkit", "netkit.ini")) as f:
            self.assertIn("\n[listen.main]\n", f.read())

    def test_pkg_config_points_into_prefix(self):
        # netkit.pc gives the installed headers, wherever the prefix is.
        cflags = step(["pkg-config", "--cflags", "netkit"],
                      env=self.env).split()
        incs = [f[2:] for f in cflags if f.startswith("-I")]
        self.assertTrue(any(os.path.isfile(os.path.join(d, "netkit",
                                                        "plugin.h"))
                            for d in incs),
                        "pkg-config --cflags netkit gives %s, which does not "
                        "hold the headers installed in %s"
                        % (cflags, self.root))
        plugindir = step(["pkg-config", "--variable=plugindir", "netkit"],
                         env=self.env).strip()
        self.assertTrue(os.path.realpath(plugindir).startswith(
            os.path.realpath(self.root)), plugindir)

    def test_pkg_config_testkit(self):
        # netkit-testkit.pc gives the directory of the installed kit, and
        # asks for no library (the kit is one header).
        cflags = step(["pkg-config", "--cflags", "netkit-testkit"],
                      env=self.env).split()
        incs = [f[2:] for f in cflags if f.startswith("-I")]
        self.assertTrue(any(os.path.isfile(os.path.join(d, "netkit",
                                                        "testkit.h"))
                            for d in incs), cflags)
        libs = step(["pkg-config", "--libs", "netkit-testkit"],
                    env=self.env).split()
        self.assertEqual(libs, [])

    def test_cmake_tests_pass(self):
        # The CMake build also builds test_upper with the kit; ctest runs
        # it and it passes.
        out = step(["ctest", "--test-dir", self.cmake_build(),
                    "--output-on-failure"], env=self.env)
        self.assertIn("100% tests passed", out)

    def test_makefile_check(self):
        # `make check` builds the tests with pkg-config alone and runs them.
        build = os.path.join(self.tmp, "make-check")
        os.makedirs(build, exist_ok=True)
        out = step(["make", "-f", os.path.join(oot.EXAMPLES, EXAMPLE, "Makefile"),
                    "CFLAGS=-O2 -Wall -Wextra -Werror", "check"], cwd=build,
                   env=self.env)
        self.assertIn("ok 4 - options", out)

    def test_cmake_build_exports_only_the_entry(self):
        # The CMake build makes upper.so, exporting nk_plugin_entry alone.
        so = os.path.join(self.cmake_build(), "upper.so")
        self.assertTrue(os.path.isfile(so))
        self.assertEqual(exported_functions(so), ["nk_plugin_entry"])

    def test_makefile_build(self):
        # The plain Makefile builds the same plugin, run from another dir.
        build = self.oot.make_build(EXAMPLE)
        so = os.path.join(build, "upper.so")
        self.assertEqual(exported_functions(so), ["nk_plugin_entry"])
        r = nktest.run("plugins", "-L", build, "upper")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_lines_answered_upper_cased(self):
        # hello\n is answered HELLO\n; lines may arrive split or together.
        with Server("-L", self.cmake_build(), "-p", "upper", "-P", "0",
                    "-H", "127.0.0.1") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"hello\n")
                self.assertEqual(recv_line(s), b"HELLO\n")
                s.sendall(b"two\nLines 2\r\n")
                self.assertEqual(recv_line(s), b"TWO\n")
                self.assertEqual(recv_line(s), b"LINES 2\r\n")
                s.sendall(b"sp")
                s.sendall(b"lit\n")
                self.assertEqual(recv_line(s), b"SPLIT\n")
                s.sendall(b"\n")
                self.assertEqual(recv_line(s), b"\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_connect_frames_lines(self):
        # netkit connect frames each request with upper's encode (the "\n"
        # is its tail) and prints each reply's payload, which decode gives
        # without the "\n", on its own line.
        build = self.cmake_build()
        with Server("-L", build, "-p", "upper", "-P", "0",
                    "-H", "127.0.0.1") as srv:
            r = nktest.run("connect", "-L", build, "-p", "upper", "-m",
                           "hello", "-n", "2", "127.0.0.1", str(srv.port()))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"HELLO\nHELLO\n")
            # Lines from standard input too, an empty one included.
            r = nktest.run("connect", "-L", build, "-p", "upper",
                           "127.0.0.1", str(srv.port()),
                           input=b"one\n\nTwo 2\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"ONE\n\nTWO 2\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_long_line_closes(self):
        # A line of max_line bytes is served; one byte more closes.
        with Server("-L", self.cmake_build(), "-p", "upper", "-P", "0",
                    "-H", "127.0.0.1", "-O", "max_line=8") as srv:
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"abcdefg\n")
                self.assertEqual(recv_line(s), b"ABCDEFG\n")
                s.sendall(b"abcdefgh")
                try:
                    self.assertEqual(s.recv(1), b"")
                except ConnectionResetError:
                    pass
            with connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"ok\n")
                self.assertEqual(recv_line(s), b"OK\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_plugins_lists_option(self):
        # `netkit plugins upper` shows max_line with its default and help.
        r = nktest.run("plugins", "-L", self.cmake_build(), "upper")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("upper 1.0.0 (tcp,udp)", out)
        self.assertRegex(out, r"\nmax_line +size 1\.\.1048576 +4k +longest "
                              r"line accepted")

    def test_check_passes(self):
        # `netkit check` runs its conformance cases on the example.
        r = nktest.run("check", "-L", self.cmake_build(), "upper",
                       timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn(b"FAIL", r.stdout)
        self.assertIn(b"ok   split-invariance", r.stdout)

    def test_served_over_udp(self):
        # Built from the installed prefix alone, served over UDP: a
        # datagram is one line, with or without its newline.
        import socket
        with Server("-L", self.cmake_build(), "-p", "upper", "-u", "-P", "0",
                    "-H", "127.0.0.1") as srv:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(nktest.DEADLINE)
                u.connect(("127.0.0.1", srv.port("udp")))
                u.send(b"hello udp\n")
                self.assertEqual(u.recv(100), b"HELLO UDP\n")
                u.send(b"no newline")
                self.assertEqual(u.recv(100), b"NO NEWLINE\n")
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
