"""`netkit check NAME`: conformance cases on a plugin's codec.

The shipped plugins pass (raw with the split cases skipped, since it takes
the whole buffer as one message), and each deliberately broken fixture of
tests/fixtures/codec.c fails, naming its case, with exit status 1.  A crash
inside the plugin is a failing case, not the end of the run.

Environment: NK_BUILDDIR (the main build tree, for the fixtures), plus
nktest's NETKIT and NK_SRCDIR.
"""
import os
import re
import tempfile
import unittest

import nktest
from nktest import SRCDIR

BUILDDIR = os.environ.get("NK_BUILDDIR") or os.path.join(SRCDIR, "build")
FIXTURES = os.path.join(BUILDDIR, "tests", "fixtures", "plugins")
CASES = ["load", "defaults", "create", "round-trip", "split-invariance",
         "stateless", "need-monotonic", "empty-message", "max-message",
         "over-max", "random-bytes", "samples"]
LINE = re.compile(r"^(ok  |FAIL|skip) ([a-z-]+)(: .*)?$")


def check(*args):
    r = nktest.run("check", *args, timeout=120)
    out = r.stdout.decode()
    verdicts = {}
    for line in out.splitlines()[1:-1]:
        m = LINE.match(line)
        if not m:
            raise AssertionError("not a case line: %r in\n%s" % (line, out))
        verdicts[m.group(2)] = (m.group(1).strip(), m.group(3) or "")
    return r, out, verdicts


class RoleTest(unittest.TestCase):
    """An asymmetric codec (tests/fixtures/asym.c: lines in, frames out)
    checked in each role, the messages made by an instance of the other
    role, and with samples of each direction's traffic."""

    def sample(self, data):
        import tempfile
        f = tempfile.NamedTemporaryFile(delete=False)
        self.addCleanup(os.unlink, f.name)
        f.write(data)
        f.close()
        return f.name

    def assert_all_pass(self, *args):
        r, out, v = check("-L", FIXTURES, *args)
        self.assertEqual(r.returncode, 0, out + r.stderr.decode())
        self.assertNotIn("FAIL", [x for x, _ in v.values()], out)
        return v

    def test_serve_role(self):
        v = self.assert_all_pass("asym")
        self.assertEqual(v["round-trip"][0], "ok")
        self.assertEqual(v["samples"], ("skip", ": no --sample given"))

    def test_connect_role(self):
        v = self.assert_all_pass("--role", "connect", "asym")
        self.assertEqual(v["round-trip"][0], "ok")

    def test_samples_of_each_direction(self):
        req = self.sample(b"GET a\nSET b 12\n\nPING\n")
        v = self.assert_all_pass("--sample", req, "asym")
        self.assertRegex(v["samples"][1],
                         r"1 file, 4 messages in 21 bytes \(serve role\)")
        rep = self.sample(b"\x02\x00\x00\x00ok\x00\x00\x00\x00")
        v = self.assert_all_pass("--role", "connect", "--sample", rep,
                                 "--sample", rep, "asym")
        self.assertRegex(v["samples"][1], r"2 files, 4 messages in 20 bytes")

    def test_sample_of_the_wrong_direction_fails(self):
        rep = self.sample(b"\x02\x00\x00\x00ok")
        r, out, v = check("-L", FIXTURES, "--sample", rep, "asym")
        self.assertEqual(r.returncode, 1, out)
        self.assertEqual(v["samples"][0], "FAIL")
        self.assertIn("left undecoded", v["samples"][1])

    def test_bad_role(self):
        r = nktest.run("check", "--role", "client", "asym")
        self.assertEqual(r.returncode, 2)
        self.assertIn("serve or connect", r.stderr.decode())


class PassTest(unittest.TestCase):
    def assert_passes(self, *args):
        r, out, v = check(*args)
        self.assertEqual(r.returncode, 0, out + r.stderr.decode())
        self.assertEqual(r.stderr, b"")
        self.assertEqual(list(v), CASES, out)
        self.assertNotIn("FAIL", [x for x, _ in v.values()], out)
        self.assertRegex(out.splitlines()[-1],
                         r"^\S+: \d+ passed, 0 failed, \d+ skipped$")
        return out, v

    def test_framed(self):
        out, v = self.assert_passes("framed")
        self.assertTrue(all(x == "ok" for k, (x, _) in v.items()
                            if k != "samples"), out)
        self.assertEqual(v["samples"][0], "skip")
        self.assertTrue(out.startswith("netkit check framed ("), out)

    def test_framed_options(self):
        # DNS framing; and a 1-byte length, whose encode cannot reach
        # max_message: over-max is skipped, saying why.
        self.assert_passes("framed", "-O", "length_bytes=2",
                           "-O", "byte_order=big")
        out, v = self.assert_passes("framed", "-O", "length_bytes=1")
        self.assertEqual(v["over-max"][0], "skip", out)
        self.assertIn("encode refuses", v["over-max"][1])

    def test_raw_skips_split_cases(self):
        out, v = self.assert_passes("raw")
        self.assertEqual(v["split-invariance"][0], "skip", out)
        self.assertIn("takes the whole buffer as one message",
                      v["split-invariance"][1])
        for case in ("round-trip", "stateless", "random-bytes"):
            self.assertEqual(v[case][0], "ok", out)

    def test_line(self):
        # A codec whose own limit (max_line) is under max_message, which
        # leaves room for "\r\n": the largest line that round-trips counts.
        for args in ((), ("-O", "max_line=100")):
            out, v = self.assert_passes("line", *args)
            self.assertIn("decode's own limit", v["max-message"][1], out)
        self.assert_passes("line", "-O", "eol=crlf")  # "\r\n" fills it
        out, v = self.assert_passes("line", "-u")
        self.assertEqual(v["over-max"][0], "skip", out)

    def test_fixture_codec(self):
        out, v = self.assert_passes("-L", FIXTURES, "codecok")
        self.assertTrue(all(x == "ok" for k, (x, _) in v.items()
                            if k != "samples"), out)
        self.assertEqual(v["samples"][0], "skip")

    def test_udp(self):
        # Over UDP each datagram is one message: the stream cases skip.
        out, v = self.assert_passes("framed", "-u")
        self.assertEqual(v["split-invariance"][0], "skip", out)
        self.assertEqual(v["round-trip"][0], "ok", out)

    def test_repeatable(self):
        # Fixed seeds: the same output every run.
        self.assertEqual(check("framed")[1], check("framed")[1])


class FailTest(unittest.TestCase):
    def assert_fails(self, name, case, detail):
        r, out, v = check("-L", FIXTURES, name)
        self.assertEqual(r.returncode, 1, out + r.stderr.decode())
        self.assertIn(case, v, out)
        self.assertEqual(v[case][0], "FAIL", out)
        self.assertRegex(v[case][1], detail)
        # The one netkit: line names every failing case.
        failed = [c for c, (x, _) in v.items() if x == "FAIL"]
        self.assertEqual(r.stderr.decode(),
                         "netkit: check %s: %d case%s failed: %s\n"
                         % (name, len(failed), "" if len(failed) == 1
                            else "s", ", ".join(failed)))
        return v

    def test_stateful_decode(self):
        self.assert_fails("stateful", "stateless", r"gave .*, then ")

    def test_need_shrinks(self):
        v = self.assert_fails("shrink", "need-monotonic", r"it shrank$")
        self.assertEqual([c for c, (x, _) in v.items() if x == "FAIL"],
                         ["need-monotonic"])

    def test_payload_outside(self):
        self.assert_fails("outside", "round-trip",
                          r"payload of 1 bytes at offset 3 lies outside the "
                          r"3-byte message")

    def test_crash_on_random_bytes(self):
        v = self.assert_fails("crashy", "random-bytes",
                              r"^: crashed \(signal 11, Segmentation fault\) "
                              r"on input \d+ \(\d+ bytes\)$")
        # The cases before it ran and passed.
        self.assertEqual(v["round-trip"][0], "ok")

    def test_crash_while_loading(self):
        v = self.assert_fails("crashsegv", "load",
                              r"^: crashed \(signal 11, Segmentation fault\) "
                              r"while loading$")
        self.assertEqual(list(v), ["load"])

    def test_bad_default(self):
        v = self.assert_fails("baddefault", "defaults",
                              r"^: option tries: default 'ten': invalid "
                              r"number 'ten'$")
        self.assertEqual(list(v), ["load", "defaults"])

    def test_create_fails(self):
        v = self.assert_fails("failcreate", "create",
                              r"create failed: this fixture always refuses")
        self.assertEqual(list(v), ["load", "defaults", "create"])


class UsageTest(unittest.TestCase):
    def assert_usage(self, args, err):
        r = nktest.run("check", *args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(r.stderr.decode(), "netkit: " + err + "\n")

    def test_usage_errors(self):
        self.assert_usage([], "check needs one plugin NAME (see 'netkit "
                              "check --help')")
        self.assert_usage(["raw", "framed"], "check needs one plugin NAME "
                          "(see 'netkit check --help')")
        self.assert_usage(["framed", "-O", "nope=1"],
                          "-O nope: plugin 'framed' has no option 'nope'")
        self.assert_usage(["framed", "-O", "length_bytes=3"],
                          "-O length_bytes=3: expected one of 1|2|4|8")
        self.assert_usage(["-u", "-L", FIXTURES, "codecok"],
                          "plugin 'codecok' does not support udp")
        self.assert_usage(["-P", "1", "framed"],
                          "option -P/--port does not apply to 'check' (see "
                          "'netkit check --help')")
        with tempfile.TemporaryDirectory() as empty:
            r = nktest.run("check", "-L", empty, "zzzzzzzz")
            self.assertEqual(r.returncode, 2)
            self.assertTrue(r.stderr.startswith(
                ("netkit: plugin 'zzzzzzzz' not found (looked in: %s, "
                 % empty).encode()), r.stderr)
        r = nktest.run("check", "-L", "/nonexistent", "framed")
        self.assertEqual(r.stderr, b"netkit: option -L/--plugin-dir: "
                         b"'/nonexistent' is not a directory\n")

    def test_help(self):
        r = nktest.run("check", "--help")
        self.assertEqual(r.returncode, 0)
        for case in CASES:
            self.assertIn(case.encode(), r.stdout)


if __name__ == "__main__":
    nktest.main()
