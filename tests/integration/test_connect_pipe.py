"""`netkit connect` as a byte pipe without --stream: a binary file piped to
the raw plugin over TCP (standard input not a terminal, no -m) goes through
byte for byte and fast, with nothing added, as nc and ncat pass it.  A text
pipe keeps message mode (test_connect.py)."""
import os
import random
import shutil
import subprocess
import unittest

import nktest
from nktest import DEADLINE, HOSTS, Server, run

ECHO = ("-p", "raw", "-O", "prefix=", "-O", "exit_word=")


def binary(n, seed=17):
    """n bytes of a binary file: NULs and bytes that are not UTF-8, and
    newlines every few hundred bytes, as a real one has."""
    return random.Random(seed).randbytes(n)


class BinaryPipeTest(unittest.TestCase):

    def test_binary_round_trip_exact(self):
        # 8 MB through a raw echo: every byte back, nothing added, status
        # 0.  Before, each of its ~31000 "lines" waited for its reply: far
        # past the deadline, and a newline was added to each.
        data = binary(8 << 20)
        for host in HOSTS:
            with self.subTest(host=host), \
                    Server(*ECHO, "-H", host, "-P", "0") as srv:
                p = run("connect", host, str(srv.port()), input=data,
                        timeout=3 * DEADLINE)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(len(p.stdout), len(data))
                self.assertTrue(p.stdout == data, "bytes differ")
                self.assertIn(b"Standard input is binary", p.stderr)
                self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_same_bytes_as_ncat(self):
        # The same file through the same server with ncat: the same bytes.
        if shutil.which("ncat") is None:
            self.skipTest("ncat is not installed")
        data = binary(1 << 20, seed=3)
        with Server(*ECHO, "-H", "127.0.0.1", "-P", "0") as srv:
            port = str(srv.port())
            ours = run("connect", "127.0.0.1", port, input=data)
            theirs = subprocess.run(["ncat", "127.0.0.1", port], input=data,
                                    capture_output=True, timeout=DEADLINE)
            self.assertEqual(ours.returncode, 0, ours.stderr)
            self.assertEqual(theirs.returncode, 0, theirs.stderr)
            self.assertTrue(ours.stdout == theirs.stdout == data)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_no_byte_added(self):
        # A short binary input without a final newline comes back as is:
        # no newline added after the reply.
        for data in (b"\x00", b"a\x00b", b"\xff\xfe\x00\x01", b"x\n\x00y"):
            with self.subTest(data=data), \
                    Server(*ECHO, "-H", "127.0.0.1", "-P", "0") as srv:
                p = run("connect", "127.0.0.1", str(srv.port()), input=data)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, data)
                self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_text_pipe_stays_message_mode(self):
        # Text lines still go one message each, each reply on its line.
        with Server("-p", "raw", "-H", "127.0.0.1", "-P", "0") as srv:
            p = run("connect", "127.0.0.1", str(srv.port()),
                    input="café\nexit\n".encode())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, ">Server echo : café\n".encode())
            self.assertNotIn(b"binary", p.stderr)
            self.assertEqual(srv.stop(), 0, srv.stderr())

    def test_framed_binary_stays_messages(self):
        # Only raw becomes a pipe: a framed session's lines are messages
        # whatever their bytes.
        with Server("-p", "framed", "-H", "127.0.0.1", "-P", "0") as srv:
            p = run("connect", "-p", "framed", "127.0.0.1", str(srv.port()),
                    input=b"a\x00b\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, b"echo : a\x00b\n")
            self.assertEqual(srv.stop(), 0, srv.stderr())


if __name__ == "__main__":
    nktest.main()
