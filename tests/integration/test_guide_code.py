"""The plugin guide's worked examples are the examples' own code.

Every fenced block of docs/plugin-guide.md whose info string names a file
(```c examples/pubsub/pubsub.c) must appear in that file verbatim, as whole
lines, so the guide cannot drift from the code that the other tests build
and serve.

Environment: nktest's NK_SRCDIR.
"""
import os
import re
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


if __name__ == "__main__":
    nktest.main()
