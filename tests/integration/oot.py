"""Building the examples/ plugins the way a plugin author builds one:
against an installed netkit found through pkg-config, with no path into the
source or build tree.

Prefix() installs the main build tree into a temporary prefix.  DESTDIR
keeps the install inside the temporary directory even if some install rule
uses an absolute destination (test_out_of_tree.py reports such a rule
instead of letting it write into /usr/local).  Its cmake_build and
make_build then build one example directory with that prefix's netkit.pc.

Environment: NK_BUILDDIR (the main build tree), plus nktest's NK_SRCDIR.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from nktest import SRCDIR

BUILDDIR = os.environ.get("NK_BUILDDIR") or os.path.join(SRCDIR, "build")
EXAMPLES = os.path.join(SRCDIR, "examples")
STEP_TIMEOUT = 120  # seconds for one configure, build or install step


def step(cmd, cwd=None, env=None):
    """Run one build step; fail with its whole output if it fails."""
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                           timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("timed out after %ds: %s"
                             % (STEP_TIMEOUT, " ".join(cmd)))
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s"
                             % (" ".join(cmd), p.returncode, out,
                                p.stderr.decode("utf-8", "replace")))
    return out


def exported_functions(path):
    """Names of the functions a shared object exports (nm -D)."""
    out = step(["nm", "-D", "--defined-only", path])
    return sorted(line.split()[-1] for line in out.splitlines()
                  if len(line.split()) == 3 and line.split()[1] == "T")


class Prefix:
    """netkit installed into a temporary directory; close() removes it."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="netkit-oot-")
        self.stage = os.path.join(self.tmp, "stage")
        self.prefix = os.path.join(self.tmp, "prefix")
        # Where the files really land: DESTDIR + prefix.
        self.root = self.stage + self.prefix
        self.env = dict(os.environ)
        self.env.pop("DESTDIR", None)
        self.env["PKG_CONFIG_PATH"] = os.path.join(self.root, "share",
                                                   "pkgconfig")
        self._built = {}  # example -> its build dir, or the error
        try:
            step(["cmake", "--install", BUILDDIR, "--prefix", self.prefix],
                 env=dict(os.environ, DESTDIR=self.stage))
        except BaseException:
            self.close()
            raise

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cmake_build(self, example):
        """Configure and build examples/EXAMPLE with CMake (warnings are
        errors), once; its build dir.  A failure is kept and repeated to
        every later caller rather than rebuilt."""
        if example not in self._built:
            build = os.path.join(self.tmp, "cmake-" + example)
            try:
                step(["cmake", "-S", os.path.join(EXAMPLES, example), "-B",
                      build, "-DCMAKE_C_FLAGS=-Werror"], env=self.env)
                step(["cmake", "--build", build], env=self.env)
                self._built[example] = build
            except AssertionError as e:
                self._built[example] = e
        built = self._built[example]
        if isinstance(built, AssertionError):
            raise AssertionError(str(built))
        return built

    def make_build(self, example, cc=None,
                   cflags="-O2 -Wall -Wextra -Werror"):
        """Build examples/EXAMPLE with its plain Makefile, run from a
        directory of its own; that directory."""
        build = os.path.join(self.tmp, "make-%s-%s" % (example, cc or "cc"))
        os.makedirs(build, exist_ok=True)
        cmd = ["make", "-f", os.path.join(EXAMPLES, example, "Makefile"),
               "CFLAGS=" + cflags]
        if cc is not None:
            cmd.append("CC=" + cc)
        step(cmd, cwd=build, env=self.env)
        return build


class ExampleTest(unittest.TestCase):
    """Tests of one example plugin (the class's EXAMPLE, a directory of
    examples/), built out of tree once for the class into self.dir."""

    EXAMPLE = None

    @classmethod
    def setUpClass(cls):
        cls.oot = Prefix()
        try:
            cls.dir = cls.oot.cmake_build(cls.EXAMPLE)
        except BaseException:
            cls.oot.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.oot.close()
