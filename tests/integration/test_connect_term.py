"""What `netkit connect` prints is escaped when stdout is a terminal (a
pseudo-terminal here), so a server cannot clear the screen, retitle the
window or send invalid bytes to it; to a pipe the bytes go unchanged, and
--stream stays a raw byte pipe even to a terminal."""
import os
import pty
import select
import subprocess
import time
import tty
import unittest

import nktest
from nktest import DEADLINE, HOSTS, ISOLATED, NETKIT
from test_connect import PyServer, fmt, framed_echo, recv_all

# Controls, a title sequence, UTF-8 (é, €, a 4-byte emoji), a C1 control
# (U+009B, a one-byte CSI to some terminals), invalid and cut-short
# sequences, an overlong '/', a surrogate.
NASTY = (b"\x1b[2J\x1b]0;x\x07 tab\there caf\xc3\xa9 \xe2\x82\xac "
         b"\xf0\x9f\x98\x80 c1\xc2\x9b bad\xff\xc3 over\xc0\xaf "
         b"sur\xed\xa0\x80 del\x7f cr\r nul\x00 nl\nend")
ESCAPED = (b"^[[2J^[]0;x^G tab\there caf\xc3\xa9 \xe2\x82\xac "
           b"\xf0\x9f\x98\x80 c1<U+009B> bad<FF><C3> over<C0><AF> "
           b"sur<ED><A0><80> del^? cr^M nul^@ nl\nend")


def nasty_framed(conn, srv):
    """Answer every framed message with NASTY, framed."""
    while True:
        hdr = recv_all(conn, 4)
        if hdr is None or recv_all(conn, int.from_bytes(hdr, "little")) \
                is None:
            return
        conn.sendall(len(NASTY).to_bytes(4, "little") + NASTY)


def nasty_raw(conn, srv):
    """Send NASTY on connect, then close once the client has."""
    conn.sendall(NASTY)
    while conn.recv(1024):
        pass


def run_on_pty(*args, input=b""):
    """Run netkit connect with stdout on a pseudo-terminal in raw mode (no
    newline translation, so the bytes read are the bytes written).  Returns
    (status, what the terminal got, stderr)."""
    master, slave = pty.openpty()
    try:
        tty.setraw(slave)
        proc = subprocess.Popen([NETKIT, "connect"] + list(args),
                                stdin=subprocess.PIPE, stdout=slave,
                                stderr=subprocess.PIPE,
                                env=dict(os.environ, **ISOLATED))
    finally:
        os.close(slave)
    out = b""
    try:
        proc.stdin.write(input)
        proc.stdin.close()
        end = time.monotonic() + DEADLINE
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("netkit connect did not end")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer to the terminal is gone
                break
            if not chunk:
                break
            out += chunk
        rc = proc.wait(DEADLINE)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        os.close(master)
    return rc, out, err


def banner_echo(conn, srv):
    """Send a raw banner on connect, then answer each chunk with
    b"re: " + it."""
    conn.sendall(b"welcome")
    while True:
        data = conn.recv(1024)
        if not data:
            return
        conn.sendall(b"re: " + data)


class TerminalTest(unittest.TestCase):

    def test_prompt_gives_way_to_push(self):
        # All three on one terminal, as a person runs it: the "> " prompt
        # that waits when the banner comes is wiped and shown again below
        # it.  The client echoes what is typed; the terminal writes "\n" as
        # "\r\n"; ^D ends input.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, banner_echo) as srv:
                master, slave = pty.openpty()
                proc = subprocess.Popen(
                    [NETKIT, "connect", host, str(srv.port)], stdin=slave,
                    stdout=slave, stderr=slave,
                    env=dict(os.environ, **ISOLATED))
                os.close(slave)
                self.addCleanup(os.close, master)
                self.addCleanup(lambda p=proc: p.poll() is None and p.kill())
                got = [b""]

                def until(want):
                    end = time.monotonic() + DEADLINE
                    while not got[0].endswith(want):
                        left = end - time.monotonic()
                        if left <= 0:
                            self.fail("no %r in %r" % (want, got[0]))
                        if select.select([master], [], [], left)[0]:
                            try:
                                got[0] += os.read(master, 4096)
                            except OSError:  # EIO: netkit has exited
                                self.fail("no %r in %r" % (want, got[0]))

                # The client edits the line itself (prompt.c): each
                # drawing starts with "\r\x1b[K", to the start and erase.
                until(b"welcome\r\n\r\x1b[K> ")
                os.write(master, b"one\n")
                until(b"re: one\r\n\r\x1b[K> ")
                os.write(master, b"\x04")
                self.assertEqual(proc.wait(DEADLINE), 0)
                until(b"> \r\n")
                self.assertEqual(
                    got[0],
                    ("[*] Connect to %s\r\n" % fmt(host, srv.port)).encode()
                    + b"\r\x1b[K> \r\x1b[Kwelcome\r\n\r\x1b[K> "
                    b"\r\x1b[K> one\r\nre: one\r\n\r\x1b[K> \r\n")

    def test_terminal_gets_escapes(self):
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, nasty_framed) as srv:
                rc, out, err = run_on_pty("-p", "framed", "-m", "hi", host,
                                          str(srv.port))
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, ESCAPED + b"\n")

    def test_terminal_raw_banner(self):
        # The same for a raw message that nothing asked for.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, nasty_raw) as srv:
                rc, out, err = run_on_pty(host, str(srv.port))
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, ESCAPED + b"\n")

    def test_terminal_udp(self):
        # Over UDP too: netkit's raw server echoes the escape sequence back.
        for host in HOSTS:
            with self.subTest(host=host), \
                    nktest.Server("-p", "raw", "-u", "-H", host, "-P",
                                  "0") as srv:
                rc, out, err = run_on_pty("-u", "-m", "\x1b[2Jhi\x7f", host,
                                          str(srv.port("udp")))
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, b">Server echo : ^[[2Jhi^?\n")
                self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_pipe_gets_bytes(self):
        # Scripts read the bytes the server sent, unchanged.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, nasty_framed) as srv:
                p = nktest.run("connect", "-p", "framed", "-m", "hi", "-n",
                               "2", host, str(srv.port))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, (NASTY + b"\n") * 2)

    def test_plain_text_unchanged_on_terminal(self):
        # Ordinary replies look the same on a terminal as in a pipe.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, framed_echo) as srv:
                rc, out, err = run_on_pty("-p", "framed", host, str(srv.port),
                                          input="héllo\tthere\n".encode())
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, "echo : héllo\tthere\n".encode())

    def test_stream_stays_raw_on_terminal(self):
        # --stream is a byte pipe like nc: not escaped, even to a terminal.
        for host in HOSTS:
            with self.subTest(host=host), PyServer(host, nasty_raw) as srv:
                rc, out, err = run_on_pty("--stream", host, str(srv.port))
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, NASTY)


if __name__ == "__main__":
    nktest.main()
