"""The interactive `netkit connect`, driven through tmux as a person types
at it: the prompt, a message pushed while a line is half typed (printed
above it, the prompt and the typed text drawn again below), editing keys,
`exit`, Ctrl-D, and the terminal given back as it was."""
import os
import shutil
import subprocess
import threading
import time
import unittest

import nktest
from nktest import DEADLINE, NETKIT

from test_connect import PyServer


class PushServer:
    """A raw server that answers each recv with b"re: " + it and can push
    a message to the client at any time."""

    def __init__(self):
        self.conns = []
        self.ready = threading.Event()
        self.srv = PyServer("127.0.0.1", self.handle)
        self.port = self.srv.port

    def handle(self, conn, srv):
        self.conns.append(conn)
        self.ready.set()
        while True:
            data = conn.recv(1024)
            if not data:
                return
            srv.record(data)
            if data == b"exit":
                return
            conn.sendall(b"re: " + data)

    def push(self, msg):
        self.assertion = self.ready.wait(DEADLINE)
        self.conns[-1].sendall(msg)

    def got(self):
        return list(self.srv.got)

    def close(self):
        self.srv.close()


@unittest.skipIf(shutil.which("tmux") is None, "tmux is not installed")
class TmuxTest(unittest.TestCase):

    def setUp(self):
        self.sock = "nktest-%d-%d" % (os.getpid(), id(self))
        self.server = PushServer()
        self.addCleanup(self.server.close)
        self.addCleanup(lambda: subprocess.run(
            ["tmux", "-L", self.sock, "kill-server"],
            capture_output=True))
        # After netkit exits, the shell says its status and whether the
        # terminal is back in canonical mode, then waits.
        # (The shell traps SIGINT so that ^C ends netkit only.)
        cmd = ("trap true INT; env NETKIT_CONFIG= %s connect 127.0.0.1 %d; "
               "echo EXIT=$?; stty -a | grep -o -- '-*icanon' | "
               "sed 's/^/MODE=/'; read x"
               % (NETKIT, self.server.port))
        subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null",
                        "new-session", "-d", "-s", "t", "-x", "100", "-y",
                        "30", cmd], check=True, env=dict(os.environ,
                                                         TERM="xterm"))

    def keys(self, *keys, literal=False):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t"] +
                       (["-l"] if literal else []) + list(keys), check=True)

    def screen(self):
        out = subprocess.run(["tmux", "-L", self.sock, "capture-pane", "-p",
                              "-t", "t"], capture_output=True, check=True)
        return [l.rstrip() for l in out.stdout.decode().splitlines()
                if l.strip()]

    def wait_screen(self, test, what):
        end = time.monotonic() + DEADLINE
        while True:
            lines = self.screen()
            if test(lines):
                return lines
            if time.monotonic() > end:
                self.fail("screen never showed %s:\n%s"
                          % (what, "\n".join(lines)))
            time.sleep(0.02)  # polling the screen, with a deadline

    def last_is(self, text):
        return self.wait_screen(lambda l: l and l[-1] == text,
                                "%r last" % text)

    def wait_got(self, want):
        end = time.monotonic() + DEADLINE
        while self.server.got() != want:
            if time.monotonic() > end:
                self.fail("server got %r, not %r" % (self.server.got(), want))
            time.sleep(0.02)  # poll under a deadline

    def test_push_keeps_half_typed_line(self):
        self.last_is(">")  # the prompt ("> ", trailing space trimmed)
        self.keys("hel", literal=True)
        self.last_is("> hel")
        self.server.push(b"PUSH one")
        self.wait_screen(lambda l: l[-2:] == ["PUSH one", "> hel"],
                         "the push above the half-typed line")
        self.server.push(b"PUSH two")
        lines = self.wait_screen(
            lambda l: l[-3:] == ["PUSH one", "PUSH two", "> hel"],
            "both pushes above the line")
        self.keys("lo", literal=True)
        self.keys("Enter")
        self.wait_got([b"hello"])
        lines = self.last_is(">")
        self.assertEqual(lines[-3:], ["> hello", "re: hello", ">"])
        self.keys("exit", literal=True)
        self.keys("Enter")
        lines = self.wait_screen(lambda l: "MODE=icanon" in l, "the end")
        self.assertIn("EXIT=0", lines)
        self.wait_got([b"hello", b"exit"])

    def test_editing_and_ctrl_d(self):
        self.last_is(">")
        self.keys("abcd", literal=True)
        self.keys("BSpace")
        self.last_is("> abc")
        self.keys("C-d")  # not on an empty line: nothing
        self.keys(" word", literal=True)
        self.keys("C-w")  # the word, not the space before it
        self.keys("BSpace")
        self.last_is("> abc")
        self.keys("Enter")
        self.wait_got([b"abc"])
        self.last_is(">")
        self.keys("zzz", literal=True)
        self.keys("C-u")
        self.last_is(">")
        self.keys("C-d")
        lines = self.wait_screen(lambda l: "MODE=icanon" in l, "the end")
        self.assertIn("EXIT=0", lines)
        self.assertEqual(self.server.got(), [b"abc"])

    def test_ctrl_c_gives_terminal_back(self):
        self.last_is(">")
        self.keys("half", literal=True)
        self.last_is("> half")
        self.keys("C-c")
        lines = self.wait_screen(lambda l: any(x.startswith("MODE=")
                                               for x in l), "the end")
        self.assertEqual(lines[-3:], ["> half", "EXIT=130", "MODE=icanon"])


if __name__ == "__main__":
    nktest.main()
