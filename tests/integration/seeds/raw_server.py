"""A raw echo server written the way the seed programs were: a thread per
client; each recv is answered with `>Server echo : ` + what it read, and a
read of `exit` closes the connection.

Naive on purpose, as the seeds were: the end of the stream is not checked
for, so after the client closes (or half-closes) the server answers each
empty read with a bare `>Server echo : ` until a send fails.

Usage: raw_server.py HOST PORT   (PORT 0: any free port)
Prints `[*] Listen on HOST:PORT` once listening, then one line for each
connection, each chunk received (hex) and each close.  It exits by itself
after LIFETIME seconds.
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
            data = conn.recv(1024)
            log('[*] Received', data.hex())
            if data == b'exit':
                break
            conn.sendall(b'>Server echo : ' + data)
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
