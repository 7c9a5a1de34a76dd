"""SIGHUP reloads where they meet other features, each under a client loop
that must see no refused connection, no reset and no lost reply:

- two addresses per listener (127.0.0.1 and ::1), TCP and UDP, with one
  and with three workers: every address answers the new configuration
  after each reload; an address added keeps the listener's port, one
  removed goes, the others keep their sockets;
- socket options changed, added and removed: set on the kept sockets (no
  new bind, so nothing refused or reset), and a bind-time one (IPV6_V6ONLY)
  said to wait for a restart;
- an empty file and a [netkit]-only file: the reload fails, says why, and
  the previous configuration goes on (at start-up both exit 2);
- a listener switching plugins after an earlier reload, and a plugin file
  replaced on disk: the plugin asked for answers, with its new code.

The plugin cases run with dlclose on (NK_NO_DLCLOSE unset), as in
production: with it off, stale objects never go away and nothing shows."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import nktest
from nktest import Server, frame, recv_frame

RELOADED = re.compile(r"\[\*\] Reloaded (\S+): (\d+) listeners? "
                      r"\((\d+) kept their sockets\)")
FAILED = re.compile(r"\[!\] Reload failed: (.*); still serving the "
                    r"previous configuration$")
HOSTS = nktest.HOSTS
# A client waits this long for its reply: a hang fails the test.
WAIT = nktest.DEADLINE / 2
BUILD = os.path.dirname(nktest.NETKIT)
DLCLOSE = {"NK_NO_DLCLOSE": ""}


def hosts():
    return "".join("host = %s\n" % h for h in HOSTS)


def config(gen, main_extra="", dgram_extra="", proto="framed", udp=True):
    """[listen.main] (TCP) and [listen.dgram] (UDP, raw) on every host;
    each plugin's prefix names the generation."""
    text = ("[listen.main]\nproto = %s\n%sport = 0\n%s\n"
            % (proto, hosts(), main_extra))
    if udp:
        # udp_rate off: the loops ask faster than the default 100/s.
        text += ("[listen.dgram]\nproto = raw\ntransport = udp\n%sport = 0\n"
                 "udp_rate = 0\n%s\n" % (hosts(), dgram_extra))
    for name in ("framed", "raw", proto):
        section = "[plugin.%s]\n" % name
        if section not in text:
            text += section + 'prefix = "v%s: "\n' % gen
    return text


def rcvbufs(port, kind):
    """The receive buffer sizes of the sockets listening on port, as ss(8)
    reports them (kind t: TCP, u: UDP)."""
    out = subprocess.run(["ss", "-Hlnm" + kind, "sport = :%d" % port],
                         capture_output=True, text=True,
                         timeout=nktest.DEADLINE).stdout
    return [int(x) for x in re.findall(r"\brb(\d+)", out)]


def ask_tcp(host, port, payload, proto="framed"):
    with socket.create_connection((host, port), timeout=WAIT) as s:
        if proto == "framed":
            s.sendall(frame(payload))
            return recv_frame(s)
        s.sendall(payload + b"\n")
        return nktest.recv_line(s).rstrip(b"\n")


def ask_udp(host, port, payload):
    with socket.socket(nktest.family_of(host), socket.SOCK_DGRAM) as s:
        s.settimeout(WAIT)
        s.sendto(payload, (host, port))
        return s.recv(65536)


class Loop(threading.Thread):
    """Asks one address, again and again until stopped (bounded): every
    failure and every reply that is not prefix + payload is kept."""

    def __init__(self, ask, check=None):
        super().__init__(daemon=True)
        self.ask, self.stop, self.n = ask, threading.Event(), 0
        self.go, self.busy = threading.Event(), threading.Lock()
        self.go.set()
        self.errors, self.prefixes = [], set()
        self.check = check or (lambda reply, payload:
                               reply[:-len(payload)]
                               if reply.endswith(payload) else None)

    def run(self):
        end = time.monotonic() + 90
        while not self.stop.is_set() and self.n < 200000 and \
                time.monotonic() < end:
            payload = b"%d" % self.n
            self.go.wait(nktest.DEADLINE)
            with self.busy:
                try:
                    reply = self.ask(payload)
                    prefix = self.check(reply, payload)
                    if prefix is None:
                        self.errors.append(("bad reply", reply))
                    else:
                        self.prefixes.add(prefix)
                except Exception as e:  # refused, reset, timed out
                    self.errors.append(e)
            self.n += 1


class Loops:
    """One Loop per (transport, address) of a server."""

    def __init__(self, asks):
        self.loops = {k: Loop(a) for k, a in asks.items()}
        for loop in self.loops.values():
            loop.start()

    def total(self):
        return sum(l.n for l in self.loops.values())

    def run_a_while(self, n=60):
        """Let every loop make n more requests (bounded by the deadline)."""
        want = {k: l.n + n for k, l in self.loops.items()}
        end = time.monotonic() + nktest.DEADLINE
        while any(l.n < want[k] and l.is_alive()
                  for k, l in self.loops.items()) and \
                time.monotonic() < end:
            time.sleep(0.01)  # poll, bounded by the deadline

    def pause(self):
        """Stop asking (bounded: see run) once the requests under way end:
        so that netkit opens no descriptor for a connection meanwhile."""
        for loop in self.loops.values():
            loop.go.clear()
        for loop in self.loops.values():
            with loop.busy:
                pass

    def resume(self):
        for loop in self.loops.values():
            loop.go.set()

    def finish(self):
        self.resume()
        for loop in self.loops.values():
            loop.stop.set()
        for loop in self.loops.values():
            loop.join(nktest.DEADLINE * 2)
        return {k: l.errors for k, l in self.loops.items() if l.errors}


class ReloadCase(unittest.TestCase):
    def reload(self, srv, path, content):
        if content is not None:
            with open(path, "w") as f:
                f.write(content)
        start = len(srv.lines)
        srv.proc.send_signal(signal.SIGHUP)
        m = srv.wait_for(re.compile("%s|%s" % (RELOADED.pattern,
                                               FAILED.pattern)), start=start)
        return m.group(0), srv.lines[start:]

    def until(self, ask, want, what):
        """Poll (bounded) until ask() answers `want`: the previous workers
        may take one more connection before they stop."""
        end = time.monotonic() + nktest.DEADLINE
        last = None
        while time.monotonic() < end:
            try:
                last = ask()
                if last.startswith(want):
                    return
            except OSError as e:
                last = e
        self.fail("%s: no reply with %r (last: %r)" % (what, want, last))


class AddressMatrixTest(ReloadCase):
    def test_every_address_through_reloads(self):
        for workers in (1, 3):
            with self.subTest(workers=workers):
                self.matrix(workers)

    def matrix(self, workers):
        v6 = any(":" in h for h in HOSTS)
        steps = [
            ("v1", config(1)),
            # A socket option added, on both transports: set on the kept
            # sockets, which go on without a new bind.
            ("v2", config(2, "sockopt.SO_RCVBUF = 100000\n"
                             "sockopt.SO_KEEPALIVE = 1\n",
                          "sockopt.SO_RCVBUF = 100000\n")),
            # Changed; a bind-time one waits for a restart (on ::1 only).
            ("v3", config(3, "sockopt.SO_RCVBUF = 150000\n"
                             "sockopt.SO_KEEPALIVE = 1\n" +
                          ("sockopt.IPV6_V6ONLY = 1\n" if v6 else ""),
                          "sockopt.SO_RCVBUF = 150000\n")),
            ("empty", ""),
            ("netkit only", "[netkit]\nlog_level = info\n"),
            # Removed: SO_KEEPALIVE back to the kernel's default; a buffer
            # size stays as it is until a restart.
            ("v4", config(4)),
        ]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "netkit.ini")
            with open(path, "w") as f:
                f.write(config(0))
            with Server("-c", path, "-w", str(workers)) as srv:
                tcp = [(h, int(p)) for h, p, t, _ in srv.listens
                       if t == "tcp"]
                udp = [(h.strip("[]"), int(p)) for h, p, t, _ in srv.listens
                       if t == "udp"]
                tcp = [(h.strip("[]"), p) for h, p in tcp]
                self.assertEqual(len(tcp), len(HOSTS))
                self.assertEqual(len(udp), len(HOSTS))
                asks = {}
                for h, p in tcp:
                    asks[("tcp", h)] = (lambda x, h=h, p=p:
                                        ask_tcp(h, p, x))
                for h, p in udp:
                    asks[("udp", h)] = (lambda x, h=h, p=p:
                                        ask_udp(h, p, x))
                loops = Loops(asks)
                loops.run_a_while()
                serving = "v0"
                for name, content in steps:
                    line, lines = self.reload(srv, path, content)
                    text = "\n".join(l for l in lines if l)
                    if name in ("empty", "netkit only"):
                        m = FAILED.search(line)
                        self.assertIsNotNone(m, line)
                        self.assertIn(path + ": ", m.group(1))
                        self.assertIn("empty config file" if name == "empty"
                                      else "no [listen.NAME] section",
                                      m.group(1))
                    else:
                        m = RELOADED.search(line)
                        self.assertIsNotNone(m, srv.stderr())
                        # Every listener kept its sockets: no new bind.
                        self.assertEqual(m.group(2, 3), ("2", "2"), line)
                        serving = name
                    if name == "v2":
                        self.assertIn("[listen.main] SO_RCVBUF = 100000 set "
                                      "on its running sockets", text)
                        self.assertIn("[listen.dgram] SO_RCVBUF = 100000 set "
                                      "on its running sockets", text)
                    if name in ("v2", "v3") and shutil.which("ss"):
                        # As the kernel has it (it doubles the size), on
                        # every socket of every worker.
                        size = 200000 if name == "v2" else 300000
                        for port, kind in ((tcp[0][1], "t"), (udp[0][1], "u")):
                            self.assertEqual(rcvbufs(port, kind),
                                             [size] * (len(HOSTS) * workers))
                    if name == "v3" and v6:
                        self.assertIn("[listen.main] IPV6_V6ONLY takes its "
                                      "new value at a restart", text)
                    if name == "v4":
                        self.assertIn("[listen.main] SO_KEEPALIVE back to "
                                      "the kernel's default", text)
                        self.assertIn("[listen.main] SO_RCVBUF is no longer "
                                      "set, but its running sockets keep",
                                      text)
                    # Every address answers the configuration in force.
                    want = serving.encode() + b": "
                    for (t, h), ask in asks.items():
                        self.until(lambda: ask(b"probe"), want,
                                   "%s %s after %s" % (t, h, name))
                    loops.run_a_while()
                errors = loops.finish()
                total = loops.total()
                print("\n%d worker(s): %d requests over %d addresses "
                      "through %d reloads, %d failed" % (
                          workers, total, len(asks), len(steps),
                          sum(len(e) for e in errors.values())))
                self.assertEqual(errors, {})
                self.assertGreater(total, 6 * 60 * len(asks))
                self.assertEqual(srv.stop(), 0)
                err = srv.stderr()
                # Bound once, at start-up: the reloads kept every socket.
                self.assertEqual(len(re.findall(r"Listen on ", err)),
                                 2 * len(HOSTS))
                self.assertEqual(len(re.findall(RELOADED, err)), 4)
                self.assertEqual(len(re.findall(r"Reload failed", err)), 2)
                # Every datagram answered, every connection closed by its
                # peer, over all the configurations.
                m = re.search(r"\[listen\.dgram\] datagrams (\d+) in, "
                              r"answered (\d+), dropped (\d+)", err)
                self.assertEqual(m.group(1), m.group(2), err)
                self.assertEqual(m.group(3), "0", err)
                m = re.search(r"\[listen\.main\] accepted (\d+), active 0, "
                              r"refused 0,.* closed (\d+) \(peer (\d+)\)", err)
                self.assertIsNotNone(m, err)
                self.assertEqual(m.group(1), m.group(2))
                self.assertEqual(m.group(2), m.group(3))


@unittest.skipUnless(len(HOSTS) == 2, "no IPv6 on this machine")
class HostsChangeTest(ReloadCase):
    """A listener's hosts change: the addresses it had keep their sockets
    (and the port 0 gave them), a new one is bound on that port, and one
    that goes is closed -- without a new bind of the others, which would
    fail beside them (EADDRINUSE) or, with port 0, move the port."""

    @staticmethod
    def conf(hs, gen):
        return ("[listen.main]\nproto = framed\n%sport = 0\n"
                "[plugin.framed]\nprefix = \"v%d: \"\n"
                % ("".join("host = %s\n" % h for h in hs), gen))

    def test_addresses_added_and_removed(self):
        for workers in (1, 3):
            with self.subTest(workers=workers):
                self.hosts_change(workers)

    def hosts_change(self, workers):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "netkit.ini")
            with open(path, "w") as f:
                f.write(self.conf(["127.0.0.1"], 0))
            with Server("-c", path, "-w", str(workers)) as srv:
                port = srv.port()
                v4 = Loops({"127.0.0.1": lambda x: ask_tcp("127.0.0.1",
                                                           port, x)})
                v4.run_a_while()
                line, lines = self.reload(
                    srv, path, self.conf(["127.0.0.1", "::1"], 1))
                self.assertEqual(RELOADED.search(line).group(2, 3),
                                 ("1", "0"), line)
                text = "\n".join(l for l in lines if l)
                self.assertIn("Listen on [::1]:%d (tcp, framed)" % port, text)
                self.assertNotIn("Listen on 127.0.0.1", text)
                for h in HOSTS:
                    self.until(lambda: ask_tcp(h, port, b"x"), b"v1: ", h)
                v6 = Loops({"::1": lambda x: ask_tcp("::1", port, x)})
                v4.run_a_while()
                v6.run_a_while()
                self.assertEqual(v4.finish(), {})
                # 127.0.0.1 goes; ::1 keeps its socket.
                line, _ = self.reload(srv, path, self.conf(["::1"], 2))
                self.assertEqual(RELOADED.search(line).group(2, 3),
                                 ("1", "1"), line)
                self.until(lambda: ask_tcp("::1", port, b"x"), b"v2: ",
                           "::1")
                end = time.monotonic() + nktest.DEADLINE
                while time.monotonic() < end:
                    try:
                        ask_tcp("127.0.0.1", port, b"x")
                    except (ConnectionRefusedError, ConnectionResetError):
                        break  # (reset: caught in the closing socket)
                else:
                    self.fail("127.0.0.1:%d still served" % port)
                v6.run_a_while()
                self.assertEqual(v6.finish(), {})
                self.assertEqual(srv.stop(), 0)
                self.assertEqual(
                    len(re.findall(r"Listen on ", srv.stderr())), 2)


def plugin_fds(pid, name):
    """How many descriptors of process pid are open on a file `name`."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).endswith("/" + name):
                n += 1
        except OSError:
            pass
    return n


def until_one_fd(pid, name):
    """A reload's previous configuration is freed once its workers end:
    wait for that (bounded), so the next reload meets a loader that has
    closed the old descriptors -- where a stale name would be reused."""
    end = time.monotonic() + nktest.DEADLINE
    while plugin_fds(pid, name) > 1 and time.monotonic() < end:
        time.sleep(0.01)  # poll, bounded by the deadline


class PluginReloadTest(ReloadCase):
    def other_loops(self, srv):
        """Client loops on [listen.other] (raw, TCP, every address)."""
        asks = {}
        for h, p, t, proto in srv.listens:
            if proto == "raw":
                h = h.strip("[]")
                asks[h] = (lambda x, h=h, p=int(p):
                           self.raw_ask(h, p, x))
        self.assertEqual(len(asks), len(HOSTS))
        return Loops(asks)

    @staticmethod
    def raw_ask(host, port, payload):
        with socket.create_connection((host, port), timeout=WAIT) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return reply
                reply += chunk

    def test_switch_plugin_after_a_reload(self):
        other = ("[listen.other]\nproto = raw\n%sport = 0\n"
                 "[plugin.raw]\nprefix = \"o: \"\n" % hosts())
        first = ("[listen.main]\nproto = framed\n%sport = 0\n"
                 "[plugin.framed]\nprefix = \"f%%d: \"\n" % hosts()) + other
        line = ("[listen.main]\nproto = line\n%sport = 0\n"
                "[plugin.line]\nprefix = \"l: \"\n" % hosts()) + other
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "netkit.ini")
            with open(path, "w") as f:
                f.write(first % 0)
            with Server("-c", path, env=DLCLOSE) as srv:
                main = [(h.strip("[]"), int(p)) for h, p, t, proto
                        in srv.listens if proto == "framed"]
                loops = self.other_loops(srv)
                loops.run_a_while()
                # An earlier reload: the same plugins again.
                m, _ = self.reload(srv, path, first % 1)
                self.assertIsNotNone(RELOADED.search(m), srv.stderr())
                for h, p in main:
                    self.until(lambda: ask_tcp(h, p, b"x"), b"f1: ", h)
                until_one_fd(srv.proc.pid, "framed.so")
                loops.run_a_while()
                # Then main switches from framed to line (the loops paused:
                # see test_plugin_file_replaced_on_disk).
                loops.pause()
                m, _ = self.reload(srv, path, line)
                loops.resume()
                self.assertIsNotNone(RELOADED.search(m), srv.stderr())
                self.assertEqual(RELOADED.search(m).group(3), "2")
                for h, p in main:
                    self.until(lambda: ask_tcp(h, p, b"x", proto="line"),
                               b"l: x", h)
                loops.run_a_while()
                errors = loops.finish()
                self.assertEqual(errors, {})
                self.assertEqual(srv.stop(), 0)
                self.assertNotIn("calls itself", srv.stderr())

    def test_plugin_file_replaced_on_disk(self):
        replacement = os.path.join(BUILD, "tests", "fixtures", "plugins",
                                   "replaced", "raw.so")
        if not os.path.exists(replacement):
            self.skipTest("fixture %s not built" % replacement)
        with tempfile.TemporaryDirectory() as d:
            plugins = os.path.join(d, "plugins")
            os.mkdir(plugins, 0o755)
            shutil.copy(os.path.join(BUILD, "plugins", "raw.so"), plugins)
            path = os.path.join(d, "netkit.ini")
            conf = "[listen.main]\nproto = raw\n%sport = 0\n" % hosts()
            with open(path, "w") as f:
                f.write(conf)
            with Server("-c", path, "-L", plugins, env=DLCLOSE) as srv:
                main = [(h.strip("[]"), int(p)) for h, p, t, proto
                        in srv.listens]
                self.assertEqual(len(main), len(HOSTS))
                # The raw echo (default prefix), or the replacement's
                # "<" + message + ">\n": either answers the loop.
                loop_asks = {
                    h: (lambda x, h=h, p=p: self.raw_ask(h, p, x))
                    for h, p in main}
                loops = Loops(loop_asks)
                for loop in loops.loops.values():
                    loop.check = (lambda reply, payload:
                                  b"new" if reply == b"<" + payload + b">\n"
                                  else reply[:-len(payload)]
                                  if reply.endswith(payload) else None)
                loops.run_a_while()
                # An earlier reload of the unchanged file.
                m, _ = self.reload(srv, path, None)
                self.assertIsNotNone(RELOADED.search(m), srv.stderr())
                until_one_fd(srv.proc.pid, "raw.so")
                loops.run_a_while()
                # An open connection keeps the code it began with.
                held = socket.create_connection(main[0], timeout=WAIT)
                held.sendall(b"a")
                self.assertTrue(held.recv(100).endswith(b"a"))
                # Replaced the way install(1) does: a new file renamed
                # over the old one.  The loops pause for this reload, so
                # that the plugin gets the lowest free descriptor: the one
                # the first configuration's copy had (none is reused by a
                # connection in between).
                tmp = os.path.join(plugins, ".raw.so.new")
                shutil.copy(replacement, tmp)
                os.replace(tmp, os.path.join(plugins, "raw.so"))
                loops.pause()
                m, _ = self.reload(srv, path, None)
                loops.resume()
                self.assertIsNotNone(RELOADED.search(m), srv.stderr())
                for h, p in main:
                    self.until(lambda: self.raw_ask(h, p, b"x"), b"<x>\n",
                               "%s after the replacement" % h)
                loops.run_a_while()
                held.sendall(b"b")
                reply = held.recv(100)
                self.assertTrue(reply.endswith(b"b") and
                                not reply.startswith(b"<"), reply)
                held.close()
                errors = loops.finish()
                self.assertEqual(errors, {})
                self.assertIn(b"new", set().union(
                    *(l.prefixes for l in loops.loops.values())))
                self.assertEqual(srv.stop(), 0)


class EmptyConfigTest(unittest.TestCase):
    def test_start_up(self):
        with tempfile.TemporaryDirectory() as d:
            empty = nktest.write(d, "empty.ini", "; nothing here yet\n\n")
            only = nktest.write(d, "only.ini", "[netkit]\nworkers = 2\n")
            for p, why in ((empty, "empty config file: add a [listen.NAME] "
                                   "section with a port"),
                           (only, "no [listen.NAME] section, so nothing to "
                                  "serve: add one with a port, or give the "
                                  "listener on the command line")):
                for args in (("serve", "-c", p), ("serve", "-c", p, "-t")):
                    r = nktest.run(*args)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    err = r.stderr.decode()
                    self.assertEqual(len(err.splitlines()), 1, err)
                    self.assertTrue(err.startswith("netkit: %s: %s"
                                                   % (p, why)), err)
                    self.assertEqual(r.stdout, b"")
            # Through $NETKIT_CONFIG too.
            r = nktest.run("serve", env={"NETKIT_CONFIG": empty})
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"empty config file", r.stderr)
            # [netkit] only, with the listener on the command line: fine.
            with Server("-c", only, "-H", "127.0.0.1", "-P", "0") as srv:
                self.assertEqual(srv.listens[0][2:], ("tcp", "raw"))
                self.assertIn("Ready (2 workers)", srv.stderr())
                self.assertEqual(srv.stop(), 0)
        # NETKIT_CONFIG set empty: no file, the built-in defaults.
        with Server("-H", "127.0.0.1", "-P", "0",
                    env={"NETKIT_CONFIG": ""}) as srv:
            self.assertIn("No config file: built-in defaults", srv.stderr())
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    nktest.main()
