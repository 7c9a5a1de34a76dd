"""The plugin guide's worked examples are the examples' own code
(docs/plugin-guide.md; test_guide_code.py compiles its marked blocks).

Every fenced block of docs/plugin-guide.md whose info string names a file
(```c examples/pubsub/pubsub.c) must appear in that file verbatim, as whole
lines, so the guide cannot drift from the code that the other tests build
and serve.  The guide's sketches (a proxy, an encode with a long head) are
compiled against the headers, so they stay valid C.

Environment: nktest's NK_SRCDIR.
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
FENCE = re.compile(r"^```(\S*)[ \t]*(\S*)[ \t]*\n(.*?)^```[ \t]*$",
                   re.M | re.S)


def quoted_blocks(text):
    """(language, path, code, line number) of each block naming a file."""
    for m in FENCE.finditer(text):
        if m.group(2):
            yield (m.group(1), m.group(2), m.group(3),
                   text.count("\n", 0, m.start()) + 1)


class GuideCodeTest(unittest.TestCase):
    def test_quoted_blocks_are_verbatim(self):
        with open(GUIDE) as f:
            guide = f.read()
        blocks = list(quoted_blocks(guide))
        # The guide quotes the pubsub example in every 1.1 section.
        self.assertGreaterEqual(
            len([b for b in blocks if b[1] == "examples/pubsub/pubsub.c"]),
            10)
        for lang, path, code, line in blocks:
            with self.subTest(line=line, path=path):
                self.assertEqual(lang, "c")
                with open(os.path.join(SRCDIR, path)) as f:
                    source = "\n" + f.read()
                self.assertTrue("\n" + code in source,
                                "docs/plugin-guide.md:%d: this block is "
                                "not in %s as written (copy it again)"
                                % (line, path))

    def test_quoted_functions_cover_the_callbacks(self):
        # Each ABI 1.1 callback the example defines is shown whole.
        with open(GUIDE) as f:
            guide = f.read()
        shown = {re.match(r"static \S+\s*\**\n(\w+)\(", code).group(1)
                 for _, _, code, _ in quoted_blocks(guide)
                 if re.match(r"static \S+\s*\**\n(\w+)\(", code)}
        for fn in ("pubsub_open", "pubsub_close", "pubsub_post",
                   "pubsub_drain", "pubsub_bad_input", "pubsub_decode",
                   "idle_check", "stats_tick"):
            self.assertIn(fn, shown)


    def test_sketches_compile(self):
        with open(GUIDE) as f:
            guide = f.read()
        sketches = [m.group(3) for m in FENCE.finditer(guide)
                    if m.group(1) == "c" and not m.group(2) and
                    re.search(r"^static \w+\n(proxy_open|http_encode)\(",
                              m.group(3), re.M)]
        self.assertEqual(len(sketches), 2)
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        self.assertIsNotNone(cc)
        # What the sketches leave out: their instance structs.
        prelude = ("#include <stdio.h>\n#include <stdlib.h>\n"
                   "#include <netkit/plugin.h>\n"
                   "struct proxy { const struct nk_host *host; "
                   "struct nk_ctx *ctx; const char *addr, *port; };\n"
                   "struct http { char head[256]; };\n")
        uses = "".join("void *use_%s = (void *)%s;\n" % (f, f) for f in
                       re.findall(r"^static \w+\n(\w+)\(",
                                  "".join(sketches), re.M))
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "sketch.c")
            with open(src, "w") as f:
                f.write(prelude + "".join(sketches) + uses)
            p = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror",
                                "-I", os.path.join(SRCDIR, "include"), "-c",
                                src, "-o", os.path.join(d, "sketch.o")],
                               capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr.decode())


if __name__ == "__main__":
    nktest.main()
