"""A framed echo server written the way the seed programs were: a thread
per client, a 4-byte little-endian length, then the payload; each message
is answered with `echo : ` + payload, framed the same way.

Naive on purpose, as the seeds were: recv(4) and recv(n) are taken to
return whole pieces, and the end of the stream is not checked for.  When
the client closes (or half-closes), recv returns b'', which reads as a
message of length 0, and the server answers it with `echo : ` again and
again until a send fails.  A client that half-closes and goes on reading
gets those replies without end; that is what this peer is for.

Usage: framed_server.py HOST PORT   (PORT 0: any free port)
Prints `[*] Listen on HOST:PORT` once listening, then one line for each
connection, each message received (hex, header included) and each close.
It exits by itself after LIFETIME seconds.
"""
import os
import socket
import sys
import threading

LIFETIME = 60  # seconds; the seeds ran until killed, a test peer must end


def log(*args):
    print(*args, flush=True)


def handle(conn, addr):
    log('[*] Connection from %s:%d' % addr[:2])
    try:
        while True:
            hdr = conn.recv(4)
            n = int.from_bytes(hdr, 'little')
            data = conn.recv(n)
            log('[*] Received', (hdr + data).hex())
            r = b'echo : ' + data
            conn.sendall(len(r).to_bytes(4, 'little') + r)
    except OSError:
        pass
    conn.close()
    log('[*] Connection closed %s:%d' % addr[:2])


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(5)
    log('[*] Listen on %s:%d' % (host, s.getsockname()[1]))
    threading.Timer(LIFETIME, os._exit, (0,)).start()
    while True:
        conn, addr = s.accept()
        threading.Thread(target=handle, args=(conn, addr), daemon=True).start()


if __name__ == '__main__':
    main()
