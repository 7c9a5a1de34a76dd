"""Every --help fits 80 columns: the overview, each command's, with no
config file and with a config file on a long path (the last line names
it)."""
import os
import tempfile
import unittest

import nktest
from nktest import run

COMMANDS = [[], ["serve"], ["connect"], ["plugins"], ["sockopts"],
            ["check"]]


class HelpWidthTest(unittest.TestCase):

    def check(self, env):
        for cmd in COMMANDS:
            for flag in ("--help", "-h"):
                with self.subTest(cmd=cmd, flag=flag, env=env):
                    p = run(*(cmd + [flag]), env=env)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    lines = p.stdout.decode().splitlines()
                    self.assertGreater(len(lines), 2)
                    for line in lines:
                        self.assertLessEqual(len(line), 80, line)
                        self.assertEqual(line, line.rstrip(), line)

    def test_no_config(self):
        self.check({})

    def test_long_config_path(self):
        with tempfile.TemporaryDirectory() as d:
            deep = os.path.join(d, "a-rather-long-directory-name", "etc",
                                "netkit")
            os.makedirs(deep)
            path = nktest.write(deep, "netkit.ini",
                                "[listen.a]\nport = 9999\n")
            self.check({"NETKIT_CONFIG": path})

    def test_options_still_listed(self):
        # Wrapping keeps every option on its line and its text after it.
        p = run("connect", "--help")
        out = p.stdout.decode()
        self.assertIn("  -p, --proto NAME             protocol plugin", out)
        self.assertIn("      --stream                 raw only:", out)


if __name__ == "__main__":
    nktest.main()
