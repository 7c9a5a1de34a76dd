#!/usr/bin/env python3
"""Fan-out of the pubsub example: messages delivered per second to N
subscribers, for each worker count.

    scripts/fanout.py [--builddir build] [--subscribers 100]
                      [--messages 10000] [--size 64] [--workers 1,2]
                      [--runs 3] [--readers 2]

The build tree is installed into a temporary prefix and examples/pubsub is
built against it with its own Makefile and pkg-config, as a plugin author
would.  For each worker count, `netkit serve -w W` serves it on loopback
(with max_queued large enough that nothing is dropped); --readers processes
hold the subscribers, all on topic "t", and one publisher sends --messages
PUBs of --size bytes as fast as the socket takes them.  The time runs from
the first PUB sent to the last message received; delivered/s is
subscribers * messages / that time.  Each run is bounded (--deadline
seconds), and so is every wait: nothing sleeps.

The clients run on the same machine as the server and compete with it for
the CPUs, so the figures are a floor, and comparable between worker counts
on one machine only.
"""
import argparse
import multiprocessing
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
LISTEN_RE = re.compile(rb"\[\*\] Listen on 127\.0\.0\.1:(\d+) ")


def build_plugin(builddir, tmp):
    """Install builddir into tmp/prefix; build pubsub.so in tmp/plugin."""
    prefix = os.path.join(tmp, "prefix")
    plugdir = os.path.join(tmp, "plugin")
    os.makedirs(plugdir)
    subprocess.run(["cmake", "--install", builddir, "--prefix", prefix],
                   check=True, capture_output=True, timeout=120)
    env = dict(os.environ,
               PKG_CONFIG_PATH=os.path.join(prefix, "share", "pkgconfig"))
    subprocess.run(["make", "-f", os.path.join(SRCDIR, "examples", "pubsub",
                                               "Makefile")],
                   cwd=plugdir, env=env, check=True, capture_output=True,
                   timeout=120)
    return os.path.join(prefix, "bin", "netkit"), plugdir


def serve(netkit, plugdir, workers, deadline):
    """Start the server; its process and port, once it is ready."""
    proc = subprocess.Popen(
        [netkit, "serve", "-L", plugdir, "-p", "pubsub", "-H", "127.0.0.1",
         "-P", "0", "-w", str(workers), "-O", "max_queued=16M"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env=dict(os.environ, NETKIT_CONFIG=""))
    port = None
    end = time.monotonic() + deadline
    buf = b""
    # "Listen on" comes before "Ready"; wait for both with a deadline.
    while b"Ready" not in buf and time.monotonic() < end:
        if not select.select([proc.stderr], [], [], end - time.monotonic())[0]:
            break
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
    m = LISTEN_RE.search(buf)
    if m and b"Ready" in buf:
        port = int(m.group(1))
    if port is None:
        proc.kill()
        raise SystemExit("fanout: netkit did not start")
    # Keep draining stderr so the server never blocks on it.
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
    return proc, port


def reader(port, nsubs, expect, ready, done, deadline):
    """Hold nsubs subscribers; report (end time, lines, drops)."""
    import selectors

    socks = []
    for _ in range(nsubs):
        s = socket.create_connection(("127.0.0.1", port), timeout=deadline)
        s.sendall(b"SUB t\n")
        socks.append(s)
    for s in socks:
        if s.recv(4) != b"+OK\n":
            raise SystemExit("fanout: SUB refused")
        s.setblocking(False)
    ready.send(True)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    lines = drops = 0
    end = time.monotonic() + deadline
    while lines < expect and time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
            data = key.fileobj.recv(1 << 18)
            lines += data.count(b"\n")
            drops += data.count(b"DROPPED ")
    done.send((time.monotonic(), lines, drops))
    for s in socks:
        s.close()


def run_once(netkit, plugdir, workers, args):
    proc, port = serve(netkit, plugdir, workers, args.deadline)
    try:
        per = [args.subscribers // args.readers +
               (1 if i < args.subscribers % args.readers else 0)
               for i in range(args.readers)]
        procs, readies, dones = [], [], []
        for n in per:
            r_ready, w_ready = multiprocessing.Pipe(False)
            r_done, w_done = multiprocessing.Pipe(False)
            p = multiprocessing.Process(
                target=reader, args=(port, n, n * args.messages, w_ready,
                                     w_done, args.deadline))
            p.start()
            procs.append(p)
            readies.append(r_ready)
            dones.append(r_done)
        for r in readies:
            if not r.poll(args.deadline):
                raise SystemExit("fanout: subscribers not ready")
            r.recv()
        pub = socket.create_connection(("127.0.0.1", port),
                                       timeout=args.deadline)
        # The +OK replies are read on a thread, so neither side blocks.
        oks = threading.Thread(target=lambda: drain(pub, args.messages * 4,
                                                     args.deadline),
                               daemon=True)
        oks.start()
        body = b"x" * args.size
        batch = b"".join(b"PUB t %s\n" % body for _ in range(1000))
        start = time.monotonic()
        left = args.messages
        while left > 0:
            k = min(left, 1000)
            pub.sendall(batch if k == 1000 else batch[:k * (len(body) + 7)])
            left -= k
        results = []
        for d in dones:
            if not d.poll(args.deadline + 5):
                raise SystemExit("fanout: a reader did not report")
            results.append(d.recv())
        for p in procs:
            p.join(args.deadline)
        oks.join(args.deadline)
        pub.close()
        end = max(r[0] for r in results)
        lines = sum(r[1] for r in results)
        drops = sum(r[2] for r in results)
        return lines, drops, end - start
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def drain(sock, nbytes, deadline):
    sock.settimeout(deadline)
    got = 0
    while got < nbytes:
        data = sock.recv(1 << 16)
        if not data:
            return
        got += len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builddir", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--size", type=int, default=64, help="payload bytes")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--readers", type=int, default=2,
                    help="processes holding the subscribers")
    ap.add_argument("--deadline", type=float, default=30.0,
                    help="seconds one run may take")
    args = ap.parse_args()
    if not (1 <= args.subscribers <= 1000 and 1 <= args.messages <= 10**6
            and 1 <= args.runs <= 10 and 1 <= args.readers <= 16):
        ap.error("out of bounds: subscribers 1..1000, messages 1..1e6, "
                 "runs 1..10, readers 1..16")
    tmp = tempfile.mkdtemp(prefix="netkit-fanout-")
    try:
        netkit, plugdir = build_plugin(os.path.abspath(args.builddir), tmp)
        print("fan-out: %d subscribers, %d messages of %d bytes, %d CPUs"
              % (args.subscribers, args.messages, args.size,
                 os.cpu_count() or 0))
        for w in [int(x) for x in args.workers.split(",")]:
            rates = []
            for _ in range(args.runs):
                lines, drops, secs = run_once(netkit, plugdir, w, args)
                want = args.subscribers * args.messages
                if lines != want:
                    print("  -w %d: %d of %d delivered (%d dropped) in %.2fs"
                          % (w, lines, want, drops, secs))
                rates.append(lines / secs)
            rates.sort()
            print("  -w %d: %.0f delivered/s (median of %d; best %.0f)"
                  % (w, rates[len(rates) // 2], len(rates), rates[-1]))
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
