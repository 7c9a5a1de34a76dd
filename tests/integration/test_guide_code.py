"""The plugin guide's code compiles: every fenced C block of
docs/plugin-guide.md marked with an HTML comment on the line before it,

    <!-- compile: NAME -->
    <!-- compile: NAME with OTHER -->

is compiled with -Wall -Wextra -Werror -pedantic against include/.  Blocks
that share a NAME are joined in order; `with OTHER` puts OTHER's blocks
first (a test after the plugin it tests).  A NAME whose code defines
main() is built as a program and run, and must exit 0; any other is built
as a plugin (a shared object) that exports nk_plugin_entry.  Unmarked
blocks are fragments and are not compiled.  Every C compiler found (cc,
gcc, clang, or $CC) builds every NAME.

Environment: NK_SRCDIR (nktest's).
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import nktest
from nktest import SRCDIR

GUIDE = os.path.join(SRCDIR, "docs", "plugin-guide.md")
INCLUDE = os.path.join(SRCDIR, "include")
MARK = re.compile(r"^<!--\s*compile:\s*([\w.-]+)(?:\s+with\s+([\w.-]+))?"
                  r"\s*-->\s*$")
FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
         "-I" + INCLUDE]


def marked_blocks(text):
    """[(name, with, code, line)] for each marked block, in order; a mark
    not followed by a ```c block is an error naming its line."""
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if not m:
            i += 1
            continue
        start = i + 1
        if start >= len(lines) or lines[start].strip() != "```c":
            raise AssertionError("%s:%d: a compile mark must be followed by "
                                 "a ```c block" % (GUIDE, i + 1))
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end >= len(lines):
            raise AssertionError("%s:%d: unterminated ```c block"
                                 % (GUIDE, start + 1))
        blocks.append((m.group(1), m.group(2),
                       "\n".join(lines[start + 1:end]) + "\n", start + 2))
        i = end + 1
    return blocks


def sources(blocks):
    """{name: C source}: a name's blocks joined, after its `with` blocks,
    each preceded by a #line naming where it is in the guide."""
    own, deps = {}, {}
    for name, dep, code, line in blocks:
        own.setdefault(name, []).append('#line %d "%s"\n%s'
                                        % (line, GUIDE, code))
        if dep:
            if dep not in [b[0] for b in blocks]:
                raise AssertionError("compile mark %s: no block is named %s"
                                     % (name, dep))
            deps[name] = dep
    return {name: "".join(own.get(deps[name], []) if name in deps else [])
            + "".join(parts) for name, parts in own.items()}


def compilers():
    found = []
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        path = shutil.which(cc) if cc else None
        if path and os.path.realpath(path) not in [os.path.realpath(p)
                                                   for p in found]:
            found.append(path)
    return found


class GuideCodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(GUIDE, encoding="utf-8") as f:
            cls.blocks = marked_blocks(f.read())
        cls.sources = sources(cls.blocks)
        cls.tmp = tempfile.mkdtemp(prefix="netkit-guide-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def build(self, cc, name, code):
        src = os.path.join(self.tmp, name + ".c")
        with open(src, "w") as f:
            f.write(code)
        is_program = re.search(r"\bmain\s*\(\s*(void|int)\b",
                               code) is not None
        out = os.path.join(self.tmp, "%s-%s%s" % (
            name, os.path.basename(cc), "" if is_program else ".so"))
        cmd = [cc] + FLAGS + (["-o", out, src] if is_program else
                              ["-fPIC", "-fvisibility=hidden", "-shared",
                               "-o", out, src])
        p = subprocess.run(cmd, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, "%s:\n%s" % (
            " ".join(cmd), p.stderr.decode("utf-8", "replace")))
        return out, is_program

    def test_marks_found(self):
        # The worked example of the testing section is there, plugin and
        # test; other sections may add their own.
        names = [b[0] for b in self.blocks]
        self.assertIn("count", names)
        self.assertIn("count-test", names)

    def test_blocks_compile(self):
        ccs = compilers()
        self.assertNotEqual(ccs, [], "no C compiler found")
        for cc in ccs:
            for name, code in sorted(self.sources.items()):
                with self.subTest(cc=cc, name=name):
                    out, is_program = self.build(cc, name, code)
                    if is_program:
                        p = subprocess.run([out], capture_output=True,
                                           timeout=60)
                        self.assertEqual(p.returncode, 0, "%s: %s%s" % (
                            name, p.stdout.decode("utf-8", "replace"),
                            p.stderr.decode("utf-8", "replace")))
                    else:
                        syms = subprocess.run(
                            ["nm", "-D", "--defined-only", out],
                            capture_output=True).stdout.decode()
                        self.assertIn(" nk_plugin_entry", syms)

    def test_marks_parse(self):
        # Marks are read strictly: a mark before a non-C block fails, and
        # `with` must name a block that exists.
        with self.assertRaises(AssertionError):
            marked_blocks("<!-- compile: x -->\n```sh\nls\n```\n")
        with self.assertRaises(AssertionError):
            sources(marked_blocks("<!-- compile: t with nope -->\n```c\n"
                                  "int x;\n```\n"))
        b = marked_blocks("```c\nfragment\n```\n<!-- compile: a -->\n```c\n"
                          "int a;\n```\n")
        self.assertEqual([(n, w, c) for n, w, c, _ in b],
                         [("a", None, "int a;\n")])


if __name__ == "__main__":
    nktest.main()
