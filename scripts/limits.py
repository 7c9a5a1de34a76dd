#!/usr/bin/env python3
"""Figures for the limits of `netkit serve`, measured by hand (not in CI):

    scripts/limits.py [--builddir build] [write|scrape|rss ...]
                      [--peers 2000] [--workers 1,2]

write   50 clients send frames and never read their echoes, under
        --write-timeout 5 and the default message timeout: when each is
        closed (the "(write timeout)" log lines, from the first client's
        stall).
scrape  40 connections to the metrics port that send nothing (or a byte
        now and then), held open; then 20 scrapes: how many succeed.
rss     --peers connections each send 1 KiB less than a frame of --size KiB
        (1024: 1 MiB - 1 KiB of a 1 MiB frame) and
        hold it; all close; the server's RSS at start, at the peak and
        each second after the close, for 10 s (-w for each --workers).

Everything is on loopback and bounded in time; the descriptor limit is
raised to what the peers need (run as root, or with a hard limit that
allows it).
"""
import argparse
import os
import re
import resource
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20


class Netkit:
    def __init__(self, binary, args, nofile=None):
        self.t0 = time.monotonic()
        self.lines = []
        limit = None
        if nofile:
            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen([binary, "serve"] + args,
                                     stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL,
                                     env=dict(os.environ,
                                              NETKIT_CONFIG="/dev/null"),
                                     preexec_fn=limit)
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(r"\[\*\] Ready")

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append((time.monotonic(), raw.decode().rstrip()))
                self.cond.notify_all()

    def wait(self, pattern, n=1, timeout=30):
        end = time.monotonic() + timeout
        rx = re.compile(pattern)
        with self.cond:
            while True:
                got = [t for t, l in self.lines if rx.search(l)]
                if len(got) >= n:
                    return got
                left = end - time.monotonic()
                if left <= 0:
                    return got
                self.cond.wait(left)

    def port(self, which="Listen on"):
        for _, l in self.lines:
            m = re.search(which + r" \S+:(\d+)", l) or \
                re.search(which + r" http://\S+:(\d+)", l)
            if m:
                return int(m.group(1))
        raise SystemExit("no port in the log")

    def rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def frame(payload):
    return len(payload).to_bytes(4, "little") + payload


def stall(sock, chunk, limit=16 * MiB):
    sock.setblocking(False)
    sent, end = 0, time.monotonic() + 10
    while sent < limit and time.monotonic() < end:
        _, w, _ = select.select([], [sock], [], 0.5)
        if not w:
            break
        try:
            sent += sock.send(chunk[sent % len(chunk):])
        except BlockingIOError:
            continue
        except OSError:
            break
    return sent


def fig_write(binary, _args):
    nk = Netkit(binary, ["-p", "framed", "-P", "0", "-H", "127.0.0.1",
                         "--write-timeout", "5"])
    port = nk.port()
    peers = []
    for _ in range(50):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.send(b"\x04\x00")  # half a header: the message deadline first
        peers.append(s)
    time.sleep(0.2)
    stalled = {}
    for s in peers:
        s.send(b"\x00\x00ping")
        stall(s, frame(b"w" * 65536) * 4)  # ends 0.5 s after its last send
        stalled[s.getsockname()[1]] = time.monotonic()
    nk.wait(r"\(write timeout\)", 50, timeout=40)
    ts = []
    with nk.cond:
        for t, l in nk.lines:
            m = re.search(r"Connection closed 127\.0\.0\.1:(\d+) \(write "
                          r"timeout\)", l)
            if m and int(m.group(1)) in stalled:
                ts.append(t - stalled[int(m.group(1))])
    ts.sort()
    for s in peers:
        s.close()
    nk.stop()
    if ts:
        print("write: %d of 50 closed on their write deadline (5 s): "
              "first %.2f s, median %.2f s, last %.2f s after its stall"
              % (len(ts), ts[0], ts[len(ts) // 2], ts[-1]))
    else:
        print("write: none of 50 closed within 40 s")


def fig_scrape(binary, _args):
    conf = "/tmp/nk-limits-%d.ini" % os.getpid()
    with open(conf, "w") as f:
        f.write("[netkit]\nmetrics = 127.0.0.1:0\n[listen.main]\n"
                "proto = framed\nhost = 127.0.0.1\nport = 0\n")
    nk = Netkit(binary, ["-c", conf])
    os.unlink(conf)
    mport = nk.port("Metrics on")
    slow = [socket.create_connection(("127.0.0.1", mport))
            for _ in range(40)]
    for i, s in enumerate(slow):
        if i % 2:
            s.send(b"GET /metr")  # a request begun, never finished
    ok = 0
    for _ in range(20):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                        timeout=5) as r:
                ok += r.status == 200 and b"netkit_" in r.read()
        except OSError:
            pass
    for s in slow:
        s.close()
    nk.stop()
    print("scrape: %d of 20 scrapes succeeded with 40 slow peers held"
          % ok)


def fig_rss(binary, args):
    need = args.peers + 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    for w in args.workers.split(","):
        nk = Netkit(binary, ["-p", "framed", "-P", "0", "-H", "127.0.0.1",
                             "-w", w])
        port = nk.port()
        base = nk.rss()
        size = args.size << 10
        part = (size).to_bytes(4, "little") + b"m" * (size - 1024)
        peers, peak = [], 0
        for i in range(args.peers):
            s = socket.create_connection(("127.0.0.1", port))
            try:
                s.sendall(part)
            except OSError:
                pass
            peers.append(s)
            if i % 50 == 49:
                peak = max(peak, nk.rss())
        time.sleep(0.5)
        peak = max(peak, nk.rss())
        for s in peers:
            s.close()
        t0 = time.monotonic()
        after = []
        for sec in range(1, 11):
            time.sleep(max(0, t0 + sec - time.monotonic()))
            after.append(nk.rss())
        nk.stop()
        print("rss -w %s: %d peers x %d KiB: %.1f MiB at start, %.1f MiB "
              "at peak; after all closed: %s MiB (1..10 s)"
              % (w, args.peers, args.size, base / MiB, peak / MiB,
                 " ".join("%.0f" % (a / MiB) for a in after)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("figures", nargs="*", default=["write", "scrape", "rss"])
    ap.add_argument("--builddir", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--peers", type=int, default=2000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--size", type=int, default=1024,
                    help="the frame each peer begins, in KiB (rss)")
    args = ap.parse_args()
    binary = os.path.join(args.builddir, "netkit")
    for f in args.figures:
        {"write": fig_write, "scrape": fig_scrape, "rss": fig_rss}[f](
            binary, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
