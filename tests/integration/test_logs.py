"""The log lines of `netkit serve`: an RFC 3339 timestamp first (none when
stderr is the journal, which stamps lines itself), the config file at
start, the listener's name on connection lines with bytes and duration at
close, and fatal errors as JSON under --log-format json."""
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

import nktest
from nktest import Server, config_file, frame, recv_frame

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class LogsTest(unittest.TestCase):
    def test_human_lines(self):
        cfg = "[listen.main]\nproto = framed\nhost = 127.0.0.1\nport = 0\n"
        with config_file(cfg) as path, Server("-c", path) as srv:
            with nktest.connect("127.0.0.1", srv.port()) as s:
                me = s.getsockname()[1]
                s.sendall(frame(b"hello"))
                self.assertEqual(recv_frame(s), b"echo : hello")
            m = srv.wait_for(re.compile(
                r"^%s \[\*\] Connection closed 127\.0\.0\.1:%d \[main\] "
                r"\(in (\d+) B, out (\d+) B, (\d+) ms\)$" % (TS, me)))
            self.assertEqual(m.group(1, 2), ("9", "16"))
            self.assertEqual(srv.stop(), 0)
            lines = srv.stderr().splitlines()
        for l in lines:
            self.assertRegex(l, r"^%s \[[*!]\] " % TS)
        i = [n for n, l in enumerate(lines) if "[*] Ready (" in l][0]
        self.assertRegex(lines[i - 1], r"\[\*\] Config %s \(netkit \S+\)$"
                         % re.escape(path))
        self.assertIn(
            "[*] Connection from 127.0.0.1:%d [main]" % me,
            [l.split(" ", 1)[1] for l in lines])

    def test_reason_and_listener(self):
        with Server("-p", "framed", "-H", "127.0.0.1", "-P", "0",
                    "--idle-timeout", "0.2") as srv:
            with nktest.connect("127.0.0.1", srv.port()) as s:
                me = s.getsockname()[1]
                self.assertEqual(s.recv(10), b"")
            srv.wait_for(re.compile(
                r"\[\*\] Connection closed 127\.0\.0\.1:%d \(idle timeout\) "
                r"\[cli\] \(in 0 B, out 0 B, \d+ ms\)$" % me))
            self.assertEqual(srv.stop(), 0)

    def test_connect_and_close_is_a_check(self):
        # A peer that connects and closes (or resets) before sending a
        # byte -- a TCP health check -- was an info line pair each, and a
        # reset one an `error` close.  Now both lines are at debug level
        # and it is counted as a `check` close; a silent peer that stays
        # is still logged, within NK_CONN_ANNOUNCE_MS.
        import socket
        import struct
        for level, shown in (("info", False), ("debug", True)):
            cfg = ("[netkit]\nlog_level = %s\n[listen.main]\nproto = framed"
                   "\nhost = 127.0.0.1\nport = 0\n" % level)
            with config_file(cfg) as path, Server("-c", path) as srv:
                with nktest.connect("127.0.0.1", srv.port()) as s:
                    fin = s.getsockname()[1]
                with nktest.connect("127.0.0.1", srv.port()) as s:
                    rst = s.getsockname()[1]
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                with nktest.connect("127.0.0.1", srv.port()) as silent:
                    me = silent.getsockname()[1]
                    srv.wait_for("Connection from 127.0.0.1:%d [main]" % me)
                self.assertEqual(srv.stop(), 0)
            err = srv.stderr()
            for port in (fin, rst):
                self.assertEqual("Connection from 127.0.0.1:%d " % port in err,
                                 shown, err)
                self.assertEqual("Connection closed 127.0.0.1:%d " % port
                                 in err, shown, err)
            self.assertRegex(err, r"\[listen\.main\] accepted 3, .*, "
                                  r"closed 3 \(peer 1, check 2\)$")

    def test_fatal_as_json(self):
        with config_file("[listen.main]\nport = 70000\n") as path:
            r = nktest.run("serve", "--log-format", "json", "-c", path)
        self.assertEqual(r.returncode, 2)
        lines = r.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        event = json.loads(lines[0])
        self.assertEqual(event["level"], "fatal")
        self.assertEqual(event["msg"], "%s:2: [listen.main] port: out of "
                         "range 0..65535" % path)
        self.assertRegex(event["ts"], "^%s$" % TS)
        # Human format: the usual one line.
        with config_file("[listen.main]\nport = 70000\n") as path:
            r = nktest.run("serve", "-c", path)
        self.assertEqual(r.stderr.decode(), "netkit: %s:2: [listen.main] "
                         "port: out of range 0..65535\n" % path)

    def test_no_timestamps_under_the_journal(self):
        # JOURNAL_STREAM names stderr's device and inode: the journal
        # stamps each line, netkit does not.  stderr is a file here, read
        # back (polled, bounded) until the Ready line.
        for fmt in ("human", "json"):
            with tempfile.TemporaryFile() as err:
                st = os.fstat(err.fileno())
                env = dict(os.environ, **nktest.ISOLATED)
                env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
                proc = subprocess.Popen(
                    [nktest.NETKIT, "serve", "-H", "127.0.0.1", "-P", "0",
                     "--log-format", fmt], stderr=err, env=env)
                try:
                    text = ""
                    end = time.monotonic() + nktest.DEADLINE
                    while "Ready" not in text and time.monotonic() < end:
                        err.seek(0)
                        text = err.read().decode()
                        time.sleep(0.01)  # poll, bounded by the deadline
                    self.assertIn("Ready", text)
                finally:
                    proc.terminate()
                    self.assertEqual(proc.wait(nktest.DEADLINE), 0)
                lines = text.splitlines()
                if fmt == "human":
                    for l in lines:
                        self.assertRegex(l, r"^\[[*!]\] ")
                else:
                    for l in lines:
                        self.assertNotIn("ts", json.loads(l))


if __name__ == "__main__":
    nktest.main()
