"""max_conns_per_ip: one address cannot take every slot of a listener.
Connections from 127.0.0.2 past the limit are closed at once and logged
(once a second), while 127.0.0.3 is served; closing one makes room."""
import unittest

import nktest
from nktest import Server, frame, recv_frame


def client(src, port):
    import socket
    s = socket.socket()
    s.settimeout(nktest.DEADLINE)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def served(s, text=b"hi"):
    try:
        s.sendall(frame(text))
        return recv_frame(s) == b"echo : " + text
    except (AssertionError, ConnectionError):
        return False


class PerIpTest(unittest.TestCase):
    def test_limit_per_address(self):
        with Server("-p", "framed", "-P", "0", "-H", "127.0.0.1",
                    "--max-conns-per-ip", "3") as srv:
            port = srv.port()
            held = [client("127.0.0.2", port) for _ in range(3)]
            for s in held:
                self.assertTrue(served(s))
            extra = [client("127.0.0.2", port) for _ in range(5)]
            for s in extra:
                self.assertFalse(served(s))  # closed at once
            other = client("127.0.0.3", port)
            self.assertTrue(served(other))
            held[0].close()
            srv.wait_count("Connection closed 127.0.0.2", 1)
            again = client("127.0.0.2", port)
            self.assertTrue(served(again))
            for s in held[1:] + extra + [other, again]:
                s.close()
            self.assertEqual(srv.stop(), 0)
        err = srv.stderr()
        self.assertEqual(err.count("refused: max_conns_per_ip (3) reached"), 1)
        self.assertIn("[listen.cli] refused 5 over max_conns_per_ip", err)


if __name__ == "__main__":
    nktest.main()
