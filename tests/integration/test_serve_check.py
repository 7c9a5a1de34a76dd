"""`netkit serve --check` (-t): validates the config and the plugins (each
is loaded, its options checked, an instance created and destroyed), prints
the effective listeners with where each value came from, binds nothing,
and exits 0 or 2."""
import re
import socket
import unittest

import nktest
from nktest import config_file

CONFIG = """[netkit]
metrics = 127.0.0.1:9100

[listen.main]
proto = framed
host = 127.0.0.1
port = %d
deny = 10.0.0.0/8
sockopt.SO_RCVBUF = 262144

[plugin.framed]
prefix = "hi "
"""


def line(out, key):
    """The value and origin columns of key's first line."""
    m = re.search(r"^  %s +(\S+(?: \S+)*?) +(\S+(?: \S+)?)$" % re.escape(key),
                  out, re.M)
    assert m, "no %s line in:\n%s" % (key, out)
    return m.groups()


class ServeCheckTest(unittest.TestCase):
    def test_origins_and_nothing_bound(self):
        # The port is held by this test: --check must not try to bind it.
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            port = held.getsockname()[1]
            with config_file(CONFIG % port) as path:
                for flag in ("--check", "-t"):
                    r = nktest.run("serve", "-c", path, flag,
                                   "--idle-timeout", "7", "-O", "max_frame=2k")
                    self.assertEqual(r.returncode, 0, r.stderr)
                    out = r.stdout.decode()
                    self.assertEqual(r.stderr, b"")
                    self.assertIn("config %s\n" % path, out)
                    self.assertIn("[listen.main] %s:4\n" % path, out)
                    self.assertEqual(line(out, "proto"),
                                     ("framed", "%s:5" % path))
                    self.assertEqual(line(out, "port"),
                                     (str(port), "%s:7" % path))
                    self.assertEqual(line(out, "transport"),
                                     ("tcp", "default"))
                    self.assertEqual(line(out, "idle_timeout"),
                                     ("7", "flag --idle-timeout"))
                    self.assertEqual(line(out, "metrics"),
                                     ("127.0.0.1:9100", "%s:2" % path))
                    self.assertEqual(line(out, "deny"),
                                     ("10.0.0.0/8", "%s:8" % path))
                    self.assertEqual(line(out, "sockopt.SO_RCVBUF"),
                                     ("262144", "%s:9" % path))
                    self.assertEqual(line(out, "framed.prefix"),
                                     ('"hi "', "%s:12" % path))
                    self.assertEqual(line(out, "framed.max_frame"),
                                     ("2k", "flag -O"))
                    self.assertEqual(line(out, "framed.byte_order"),
                                     ("little", "default"))
                    self.assertIn("  binds                127.0.0.1:%d\n"
                                  % port, out)
                    self.assertTrue(out.endswith(
                        "configuration ok: 1 listener\n"), out)

    def test_command_line_listener(self):
        r = nktest.run("serve", "-t", "-p", "line", "-P", "7000", "-w", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("config (none: built-in defaults)\n", out)  # ISOLATED
        self.assertIn("[listen.cli] the command line\n", out)
        self.assertEqual(line(out, "proto"), ("line", "flag -p"))
        self.assertEqual(line(out, "port"), ("7000", "flag -P"))
        self.assertEqual(line(out, "workers"), ("3", "flag -w"))
        self.assertEqual(line(out, "host"), ("localhost", "default"))
        self.assertEqual(line(out, "line.prefix"), ('"echo : "', "default"))

    def test_errors_exit_2(self):
        # A bad plugin option in the file: one line naming file:line.
        with config_file("[listen.a]\nproto = framed\nport = 0\n"
                         "[plugin.framed]\nmax_frame = 3x\n") as path:
            r = nktest.run("serve", "--check", "-c", path)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stdout, b"")
            err = r.stderr.decode().splitlines()
            self.assertEqual(len(err), 1, err)
            self.assertTrue(err[0].startswith("netkit: %s:5: " % path), err)
        # Options every check passes but the plugin's create refuses.
        r = nktest.run("serve", "-t", "-p", "line", "-O", 'prefix="a\\nb"')
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr.decode(), r"^netkit: .*plugin line: ")
        # A host that does not resolve: 2 too (a run would exit 1).
        r = nktest.run("serve", "-t", "-H", "nosuch.invalid")
        self.assertEqual(r.returncode, 2)
        r = nktest.run("serve", "-t", "-p", "nosuch")
        self.assertEqual(r.returncode, 2)
        self.assertIn("plugin 'nosuch' not found", r.stderr.decode())


if __name__ == "__main__":
    nktest.main()
