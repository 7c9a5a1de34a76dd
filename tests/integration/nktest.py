"""Shared machinery for netkit's integration tests.

Each test starts the real `netkit` binary on loopback with port 0, reads the
"[*] Listen on ADDR:PORT (...)" lines from its stderr with a deadline (never a
sleep), talks to it with plain sockets, and stops it with SIGTERM, expecting
exit status 0.

Environment: NETKIT (the binary; default build/netkit), NK_SRCDIR (the
repository), NK_VALGRIND=1 (run every server under valgrind, failing on any
error or leak).
"""
import contextlib
import faulthandler
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("NK_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
NETKIT = os.environ.get("NETKIT") or os.path.join(SRCDIR, "build", "netkit")
VALGRIND = os.environ.get("NK_VALGRIND") == "1"
# The sanitizer build (make asan) sets ASAN_OPTIONS: memory figures are its.
SANITIZED = "ASAN_OPTIONS" in os.environ
DEADLINE = 30 if VALGRIND else 10

LISTEN_RE = re.compile(r"\[\*\] Listen on (\S+):(\d+) \((tcp|udp), (\S+)\)")
READY_RE = re.compile(r"\[\*\] Ready \(")


def have_ipv6():
    """True when ::1 can be bound (some CI containers lack IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# Tests run on built-in defaults, whatever netkit.ini is installed on the
# machine: NETKIT_CONFIG set empty means no config file.  A test that wants
# a config passes -c or its own NETKIT_CONFIG.
ISOLATED = {"NETKIT_CONFIG": ""}

HOSTS = ["127.0.0.1"] + (["::1"] if have_ipv6() else [])


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Server:
    """A `netkit serve` process; stderr lines are collected as they come."""

    def __init__(self, *args, env=None, wait_listen=True, nofile=None,
                 launcher=()):
        # launcher: a command that runs netkit (systemd-socket-activate).
        cmd = [NETKIT, "serve"] + list(args)
        if VALGRIND:
            cmd = ["valgrind", "--quiet", "--error-exitcode=99",
                   "--leak-check=full", "--errors-for-leak-kinds=definite",
                   "--show-leak-kinds=definite"] + cmd
        cmd = list(launcher) + cmd
        full_env = dict(os.environ, **ISOLATED)
        full_env.update(env or {})
        limit = None
        if nofile is not None:  # run the server with few descriptors
            import resource

            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=full_env,
                                     preexec_fn=limit)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.listens = []
        if wait_listen:
            # Every "Listen on" line comes before the one "Ready" line.
            try:
                self.wait_for(READY_RE)
            except BaseException:
                self.__exit__(None, None, None)
                raise
            with self.cond:
                self.listens = [LISTEN_RE.search(l).groups()
                                for l in self.lines
                                if l is not None and LISTEN_RE.search(l)]

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF marker
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=DEADLINE, start=0):
        """Wait until a stderr line matches `pattern`; return the match."""
        if isinstance(pattern, str):
            pattern = re.compile(re.escape(pattern))
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if line is None:
                        raise AssertionError(
                            "netkit exited before %r; stderr:\n%s"
                            % (pattern.pattern, self.stderr()))
                    m = pattern.search(line)
                    if m:
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %r; stderr:\n%s"
                                         % (pattern.pattern, self.stderr()))
                self.cond.wait(left)

    def wait_count(self, text, n, timeout=DEADLINE):
        """Wait until n stderr lines contain text."""
        end = time.monotonic() + timeout
        with self.cond:
            while sum(1 for l in self.lines
                      if l is not None and text in l) < n:
                if None in self.lines:
                    raise AssertionError("netkit exited before %d x %r; "
                                         "stderr:\n%s"
                                         % (n, text, self.stderr()))
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %d x %r; "
                                         "stderr:\n%s"
                                         % (n, text, self.stderr()))
                self.cond.wait(left)

    def stderr(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)

    def port(self, transport="tcp", index=0):
        return int([p for a, p, t, _ in self.listens if t == transport][index])

    def addrs(self):
        return [(a.strip("[]"), int(p), t) for a, p, t, _ in self.listens]

    def stop(self, sig=signal.SIGTERM, timeout=DEADLINE):
        """Signal the server; return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("netkit did not stop on %s" % sig)
        self.reader.join(5)
        self.proc.stderr.close()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        if not self.proc.stderr.closed:
            self.proc.stderr.close()


def write(directory, name, content):
    """Write content (str or bytes) to directory/name; return the path."""
    path = os.path.join(directory, name)
    with open(path, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)
    return path


@contextlib.contextmanager
def config_file(content, name="netkit.ini"):
    """A config file holding content, removed after the with-block."""
    with tempfile.TemporaryDirectory() as d:
        yield write(d, name, content)


def concurrently(n, client):
    """Run client(i) for i in range(n), each on its own thread, all at once,
    the way a tutorial's threaded clients would.  Returns {i: what client(i)
    returned, or the exception it raised, or "still running" past the
    deadline}."""
    results = {}

    def run_one(i):
        try:
            results[i] = client(i)
        except Exception as e:  # reported, not lost with the thread
            results[i] = e

    threads = [threading.Thread(target=run_one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for i, t in enumerate(threads):
        t.join(DEADLINE)
        if t.is_alive():
            results[i] = "still running"
    return results


def run(*args, input=None, timeout=DEADLINE, env=None):
    """Run `netkit ARGS...` to completion; return the CompletedProcess."""
    full_env = dict(os.environ, **ISOLATED)
    full_env.update(env or {})
    return subprocess.run([NETKIT] + list(args), input=input,
                          capture_output=True, timeout=timeout, env=full_env)


def connect(host, port, timeout=DEADLINE):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes"
                                 % (len(buf), n))
        buf += chunk
    return buf


def recv_line(sock):
    """Bytes up to and including the next newline; b"" if the peer closed
    first (the socket's timeout bounds the wait)."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            return buf
        buf += chunk
    return buf


def frame(payload, width=4, order="little"):
    return len(payload).to_bytes(width, order) + payload


def recv_frame(sock, width=4, order="little"):
    n = int.from_bytes(recv_exact(sock, width), order)
    return recv_exact(sock, n)


def main():
    # A hang shows where it is: dump every thread's stack, and fail, well
    # before ctest's TIMEOUT kills the test without a word.
    faulthandler.dump_traceback_later(
        int(os.environ.get("NK_TEST_WATCHDOG", "150")), exit=True)
    unittest.main(verbosity=2)
