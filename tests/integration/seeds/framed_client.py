"""A framed client written the way the seed programs were: each line of
standard input (without its newline) goes out as a 4-byte little-endian
length and the payload, and one reply is read back -- recv(4), then
recv(n), each taken to return the whole piece -- and printed on its own
line.  After `exit` (whose reply is printed too) it closes.

Usage: framed_client.py HOST PORT < lines
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
        s.sendall(len(msg).to_bytes(4, 'little') + msg)
        hdr = s.recv(4)
        n = int.from_bytes(hdr, 'little')
        data = s.recv(n)
        sys.stdout.buffer.write(data + b'\n')
        sys.stdout.flush()
        if msg == b'exit':
            break
    s.close()


if __name__ == '__main__':
    main()
