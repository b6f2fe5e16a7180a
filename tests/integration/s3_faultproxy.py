#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of an S3 endpoint:
s3_faultproxy.py TARGET-PORT MODE [LISTEN-PORT]

Listens on LISTEN-PORT or a free loopback port (printed on stdout) and relays every request
to 127.0.0.1:TARGET-PORT with its headers untouched (the Host header is part
of the SigV4 signature), except as MODE says:
  503:N    the first N requests get "503 SlowDown" without reaching the store
  corrupt  GET answers with a 2xx status get one body byte flipped
  500:TEXT every request whose path contains TEXT gets "500 InternalError"
  pass     nothing: every request relayed (a store that came back)
  slow:MS  every request waits MS milliseconds before it is relayed (a slow store)
Each request it faults is logged on stderr ("fault N ...").
"""
import http.client
import http.server
import sys
import threading
import time

TARGET = int(sys.argv[1])
MODE = sys.argv[2]
lock = threading.Lock()
count = {"n": 0}

SLOWDOWN = (b"<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SlowDown</Code>"
            b"<Message>Please reduce your request rate.</Message></Error>")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with lock:
            count["n"] += 1
            seq = count["n"]
        if MODE.startswith("slow:"):
            time.sleep(int(MODE[5:]) / 1000)
        if MODE.startswith("503:") and seq <= int(MODE[4:]):
            print(f"fault {seq} 503 {self.command} {self.path}", file=sys.stderr, flush=True)
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOWDOWN)))
            self.end_headers()
            self.wfile.write(SLOWDOWN)
            return
        if MODE.startswith("500:") and MODE[4:] in self.path:
            print(f"fault {seq} 500 {self.command} {self.path}", file=sys.stderr, flush=True)
            err = SLOWDOWN.replace(b"SlowDown", b"InternalError")
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(err)))
            self.end_headers()
            self.wfile.write(err)
            return
        conn = http.client.HTTPConnection("127.0.0.1", TARGET, timeout=60)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("expect", "connection"):
                conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if MODE == "corrupt" and self.command == "GET" and 200 <= resp.status < 300 and data:
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
            print(f"fault {seq} corrupt GET {self.path}", file=sys.stderr, flush=True)
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay


def main():
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
