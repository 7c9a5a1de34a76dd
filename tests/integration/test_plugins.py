"""`netkit plugins` and the loader's refusals, as a user sees them.

Each refusal is one `netkit:` line on stderr naming the file and the fix,
with exit status 2.  Plugins are copied into private temporary directories
(0700 under the root-owned, sticky /tmp), whose modes and owners the tests
then break one at a time.

Environment: NK_BUILDDIR (the main build tree, for the fixtures), plus
nktest's NETKIT and NK_SRCDIR.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import nktest
from nktest import SRCDIR

BUILDDIR = os.environ.get("NK_BUILDDIR") or os.path.join(SRCDIR, "build")
FIXTURES = os.path.join(BUILDDIR, "tests", "fixtures", "plugins")


class PluginDir:
    """A private directory holding copies of fixtures."""

    def __init__(self, *names):
        self.dir = tempfile.mkdtemp(prefix="netkit-plugins-")
        for n in names:
            self.add(n)

    def add(self, name, src=FIXTURES):
        path = os.path.join(self.dir, name + ".so")
        shutil.copyfile(os.path.join(src, name + ".so"), path)
        os.chmod(path, 0o644)
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


class RefusalTest(unittest.TestCase):
    def assert_refused(self, args, want):
        r = nktest.run(*args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.decode(), "netkit: " + want + "\n")

    def test_world_writable_file(self):
        with PluginDir("good") as d:
            so = os.path.join(d.dir, "good.so")
            os.chmod(so, 0o666)
            self.assert_refused(
                ["plugins", "-L", d.dir, "good"],
                "plugin %s refused: %s is world-writable (mode 0666); run "
                "chmod go-w %s" % (so, so, so))
            # serve refuses it the same way, before any socket opens.
            self.assert_refused(
                ["serve", "-L", d.dir, "-p", "good", "-P", "0"],
                "plugin %s refused: %s is world-writable (mode 0666); run "
                "chmod go-w %s" % (so, so, so))

    def test_world_writable_dir(self):
        with PluginDir("good") as d:
            so = os.path.join(d.dir, "good.so")
            os.chmod(d.dir, 0o1777)
            self.assert_refused(
                ["plugins", "-L", d.dir, "good"],
                "plugin %s refused: %s is world-writable (mode 1777); run "
                "chmod go-w %s" % (so, d.dir, d.dir))

    @unittest.skipUnless(os.geteuid() == 0, "only root can give files away")
    def test_other_owner(self):
        with PluginDir("good") as d:
            so = os.path.join(d.dir, "good.so")
            os.chown(so, 65534, 65534)
            self.assert_refused(
                ["plugins", "-L", d.dir, "good"],
                "plugin %s refused: %s is owned by nobody (uid 65534), not "
                "by root; run chown root %s" % (so, so, so))

    def test_symlink_to_writable_target(self):
        with PluginDir("good") as d, PluginDir() as t:
            target = t.add("good")
            os.chmod(target, 0o646)
            link = os.path.join(d.dir, "good.so")
            os.unlink(link)
            os.symlink(target, link)
            self.assert_refused(
                ["plugins", "-L", d.dir, "good"],
                "plugin %s refused: %s is world-writable (mode 0646); run "
                "chmod go-w %s" % (link, target, target))

    def test_abi_and_entry(self):
        # The loader's own checks, through the command line.
        r = nktest.run("plugins", "-L", FIXTURES, "newminor")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr.decode(),
                         r"^netkit: plugin %s/newminor\.so: needs plugin ABI "
                         r"(\d+)\.\d+, this netkit has \1\.\d+\n$"
                         % FIXTURES)
        r = nktest.run("plugins", "-L", FIXTURES, "badabi")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr.decode(),
                         r"^netkit: plugin %s/badabi\.so: built for plugin "
                         r"ABI \d+, this netkit speaks \d+\n$" % FIXTURES)
        self.assert_refused(
            ["plugins", "-L", FIXTURES, "noentry"],
            "plugin %s/noentry.so: not a netkit plugin (no nk_plugin_entry "
            "symbol)" % FIXTURES)

    def test_duplicate_name_warns(self):
        # Two copies: the first directory wins, and both are named.
        with PluginDir("good") as a, PluginDir("good") as b:
            first = os.path.join(a.dir, "good.so")
            second = os.path.join(b.dir, "good.so")
            r = nktest.run("plugins", "-L", a.dir, "-L", b.dir, "good")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(first.encode(), r.stdout)
            self.assertEqual(
                r.stderr.decode(),
                "[!] plugin 'good' is in %s and in %s; using %s\n"
                % (first, second, first))
            # One directory given twice is one file: no warning.
            r = nktest.run("plugins", "-L", a.dir, "-L", a.dir, "good")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, b"")


class ListingTest(unittest.TestCase):
    """Every candidate is loaded in a child process: nothing a plugin does
    while loading can take the listing down."""

    def test_crashing_constructor(self):
        with PluginDir("crashsegv", "crashabort", "crashexit", "good",
                       "noentry") as d:
            nk = os.path.join(d.dir, "notelf.so")
            with open(nk, "w") as f:
                f.write("not a shared object; longer than an ELF header, so "
                        "that dlopen reads it and says why it is not one\n")
            r = nktest.run("plugins", "-L", d.dir)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout.decode()
            self.assertRegex(out, r"\ncrashsegv +- +- +\(refused: plugin "
                             r"\S+/crashsegv\.so: crashed while loading "
                             r"\(signal 11, ")
            self.assertRegex(out, r"\ncrashabort +- +- +\(refused: plugin "
                             r"\S+/crashabort\.so: crashed while loading "
                             r"\(signal 6, ")
            self.assertRegex(out, r"\ncrashexit +- +- +\(refused: plugin "
                             r"\S+/crashexit\.so: exited with status 3 "
                             r"while loading\)")
            self.assertRegex(out, r"\nnoentry +- +- +\(refused: plugin \S+: "
                             r"not a netkit plugin")
            self.assertRegex(out, r"\nnotelf +- +- +\(refused: cannot load "
                             r"plugin \S+: invalid ELF header\)")
            # The ones after the crashes are still listed.
            self.assertRegex(out, r"\ngood +1\.2\.3 +tcp,udp +loader")
            self.assertRegex(out, r"\nraw +1\.0\.0 ")

    def test_describe_crashing(self):
        # `netkit plugins NAME` on a crashing plugin: one line, status 2.
        with PluginDir("crashsegv") as d:
            so = os.path.join(d.dir, "crashsegv.so")
            r = nktest.run("plugins", "-L", d.dir, "crashsegv")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(r.stdout, b"")
            self.assertEqual(r.stderr.decode(),
                             "netkit: plugin %s: crashed while loading "
                             "(signal 11, Segmentation fault)\n" % so)

    def test_shadowed_listed(self):
        with PluginDir("good") as a, PluginDir("good") as b:
            r = nktest.run("plugins", "-L", a.dir, "-L", b.dir)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("good         -        -          (not used: "
                          "%s/good.so comes first)\n" % a.dir,
                          r.stdout.decode())


class EscapeTest(unittest.TestCase):
    """One rule for -O values, config values and defaults: "quoted" with
    escapes, or as is."""

    def reply(self, *args):
        with nktest.Server("-p", "raw", "-P", "0", "-H", "127.0.0.1",
                           *args) as srv:
            with nktest.connect("127.0.0.1", srv.port()) as s:
                s.sendall(b"x")
                data = b""
                while not data.endswith(b"x"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
            self.assertEqual(srv.stop(), 0, srv.stderr())
        return data

    def test_cli_value_quoted(self):
        self.assertEqual(self.reply("-O", 'prefix="a\\tb\\x21 "'),
                         b"a\tb! x")
        # Unquoted: as is, backslashes included.
        self.assertEqual(self.reply("-O", "prefix=a\\tb "), b"a\\tb x")
        self.assertEqual(self.reply("-O", "prefix="), b"x")
        self.assertEqual(self.reply("-O", 'prefix=""'), b"x")

    def test_config_value_same_rule(self):
        with nktest.config_file('[plugin.raw]\nprefix = "a\\tb\\x21 "\n') \
                as path:
            self.assertEqual(self.reply("-c", path), b"a\tb! x")

    def test_cli_bad_quote(self):
        r = nktest.run("serve", "-p", "raw", "-P", "0", "-O", 'prefix="oops')
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, b"netkit: option -O/--plugin-opt: prefix: "
                                   b"unterminated quote\n")
        r = nktest.run("serve", "-p", "raw", "-P", "0", "-O", 'prefix="\\q"')
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, b"netkit: option -O/--plugin-opt: prefix: "
                                   b"bad escape '\\q'\n")

    def test_defaults_shown_escaped(self):
        r = nktest.run("plugins", "-L", FIXTURES, "good")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'\ngreeting  string           "hi\\tthere "  bytes',
                      r.stdout)


class BuildTreeTest(unittest.TestCase):
    """A binary with a CMakeCache.txt beside it is in a build tree: its own
    plugins/ come before the installed ones, and no installed netkit.ini is
    read.  Without the cache the same layout is an install."""

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix="netkit-tree-")
        self.bin = os.path.join(self.top, "bin")
        os.makedirs(os.path.join(self.bin, "plugins"))
        os.makedirs(os.path.join(self.top, "lib", "netkit", "plugins"))
        os.makedirs(os.path.join(self.top, "etc", "netkit"))
        shutil.copy(nktest.NETKIT, self.bin)
        for d in (os.path.join(self.bin, "plugins"),
                  os.path.join(self.top, "lib", "netkit", "plugins")):
            shutil.copyfile(os.path.join(FIXTURES, "good.so"),
                            os.path.join(d, "good.so"))
            os.chmod(os.path.join(d, "good.so"), 0o644)
        self.ini = nktest.write(os.path.join(self.top, "etc", "netkit"),
                                "netkit.ini",
                                "[listen.main]\nproto = framed\nport = 0\n")
        self.own = os.path.join(self.bin, "plugins", "good.so")
        self.installed = os.path.join(self.bin, "..", "lib", "netkit",
                                      "plugins", "good.so")

    def tearDown(self):
        shutil.rmtree(self.top, ignore_errors=True)

    def run_copy(self, *args):
        env = dict(os.environ)
        env.pop("NETKIT_CONFIG", None)
        env.pop("NETKIT_PLUGIN_PATH", None)
        return subprocess.run([os.path.join(self.bin, "netkit")] + list(args),
                              capture_output=True, env=env, timeout=30)

    def test_build_tree(self):
        nktest.write(self.bin, "CMakeCache.txt", "")
        r = self.run_copy("plugins", "good")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(("\n%s\n" % self.own).encode(), r.stdout)
        # Its own plugins shadow installed ones on purpose: no warning.
        self.assertEqual(r.stderr, b"")
        r = self.run_copy("serve", "--help")
        self.assertIn(b"-p, --proto NAME             protocol plugin "
                      b"(default raw", r.stdout)
        # The help is wrapped at 80 columns: compare the words.
        self.assertTrue(b" ".join(r.stdout.split()).endswith(
            b" Config: without -c, none is read (this binary is in a build "
            b"tree, which ignores an installed netkit.ini): the defaults "
            b"above apply."), r.stdout)

    def test_installed_layout(self):
        r = self.run_copy("plugins", "good")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(("\n%s\n" % self.installed).encode(), r.stdout)
        self.assertEqual(
            r.stderr.decode(),
            "[!] plugin 'good' is in %s and in %s; using %s\n"
            % (self.installed, self.own, self.installed))
        # --help names the installed config that changes the defaults.
        r = self.run_copy("serve", "--help")
        ini = os.path.join(os.path.realpath(self.top), "etc", "netkit",
                           "netkit.ini")
        self.assertIn(("Config: without -c, %s is read; its settings "
                       "replace the defaults above, and its [listen.*] "
                       "sections are served unless -p, -H, -P, -u, -4 or -6 "
                       "is given." % ini).encode(),
                      b" ".join(r.stdout.split()))


if __name__ == "__main__":
    nktest.main()
