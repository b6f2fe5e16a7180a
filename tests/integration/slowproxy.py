#!/usr/bin/env python3
"""A slow TCP proxy for one connection: slowproxy.py TARGET-PORT RATE-BYTES/S

Listens on a free loopback port (printed on stdout), accepts one client and
relays it to 127.0.0.1:TARGET-PORT. Server-to-client bytes are read through a
small receive buffer at about RATE bytes/s, so the server cannot run more than
its own send buffer ahead of what the client has seen (loopback windows grow
to tens of MB otherwise). When the server closes, so does the client side:
the client sees exactly the bytes and the end the server produced.
"""
import socket
import sys
import threading
import time


def main():
    target, rate = int(sys.argv[1]), int(sys.argv[2])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    print(ls.getsockname()[1], flush=True)
    cli, _ = ls.accept()
    ls.close()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    srv.connect(("127.0.0.1", target))

    def up():
        try:
            while True:
                d = cli.recv(65536)
                if not d:
                    srv.shutdown(socket.SHUT_WR)
                    return
                srv.sendall(d)
        except OSError:
            return

    threading.Thread(target=up, daemon=True).start()
    piece, start, sent = 8192, time.monotonic(), 0
    try:
        while True:
            d = srv.recv(piece)
            if not d:
                break
            cli.sendall(d)
            sent += len(d)
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    except OSError:
        pass
    cli.close()
    srv.close()


if __name__ == "__main__":
    main()
