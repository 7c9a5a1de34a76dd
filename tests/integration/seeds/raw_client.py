"""A raw client written the way the seed programs were: each line of
standard input (without its newline) is sent with one send, and one recv
is taken as the whole reply and printed on its own line.  `exit` is sent
and ends the session without waiting for a reply (the server closes).

Usage: raw_client.py HOST PORT < lines
Every socket call is bounded by TIMEOUT seconds.
"""
import socket
import sys

TIMEOUT = 10


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    for line in sys.stdin.buffer:
        msg = line.rstrip(b'\n')
        s.sendall(msg)
        if msg == b'exit':
            break
        data = s.recv(1024)
        sys.stdout.buffer.write(data + b'\n')
        sys.stdout.flush()
    s.close()


if __name__ == '__main__':
    main()
