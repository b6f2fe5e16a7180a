#!/usr/bin/env python3
"""Raw-socket HTTP clients for tests/integration/test_http_*.sh: the
exchanges a library client hides (what the server sends before the body,
whether it read any of it, what happens on a reused connection).

  httpraw.py keepalive URL TOKEN SHARD FILE  requests on one connection vs new ones
  httpraw.py early-reject URL PATH [HEADER...] headers with Expect, no body: the final
                                               status must come, the connection close,
                                               and the server must not ask for the body
  httpraw.py smuggle URL                       rejected upload whose body is a request
  httpraw.py reuse-after-upload URL TOKEN SHARD FILE
  httpraw.py stall-body URL TOKEN SHARD FILE   sends part of the body, then nothing
  httpraw.py hold-upload URL TOKEN SHARD FILE SECONDS MARKER   holds an upload open (a slot)
  httpraw.py stalled-headers URL N SECONDS TOKEN SHARD FILE
                                               N connections stalled in their headers
                                               while /health and a restore are timed
Each prints what it saw and exits 1 with a message on any unexpected answer.
"""
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def addr(url):
    u = urllib.parse.urlparse(url)
    return u.hostname, u.port


def connect(url, timeout=10):
    s = socket.create_connection(addr(url), timeout=timeout)
    return s


class Reader:
    """Reads responses (status, headers, body by Content-Length) from a socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if status in (100, 204, 304):
            n = 0
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed_within(self, seconds):
        """True if the peer closes (EOF or reset) within seconds, data ignored."""
        self.s.settimeout(seconds)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                if not self.s.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False


def request(method, path, headers=(), body=b"", length=None):
    h = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: tsvault-tests"]
    h += list(headers)
    if length is None:
        length = len(body)
    if method in ("POST", "PUT") or length:
        h.append(f"Content-Length: {length}")
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def restore_req(token, shard, data, expect=False):
    hs = [f"Authorization: Token {token}", "Content-Encoding: gzip",
          "Content-Type: application/octet-stream"]
    if expect:
        hs.append("Expect: 100-continue")
    return request("POST", f"/api/v2/restore/shards/{shard}", hs, data)


def keepalive(url, token, shard, path):
    """20 GET /health and 10 small restores on one connection: none may pay
    the ~40 ms Nagle/delayed-ACK wait (the median is compared with requests
    on fresh connections, plus a margin for a busy machine)."""
    data = open(path, "rb").read()
    s = connect(url)
    r = Reader(s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reused = {"health": [], "restore": []}
    for i in range(20):
        t = time.monotonic()
        s.sendall(request("GET", "/health"))
        st, h, _ = r.response()
        reused["health"].append(time.monotonic() - t)
        if st != 200 or h.get("connection", "").lower() == "close":
            fail(f"keep-alive /health #{i}: {st} {h}")
    for i in range(10):
        t = time.monotonic()
        s.sendall(restore_req(token, shard, data))
        st, h, b = r.response()
        reused["restore"].append(time.monotonic() - t)
        if st != 204:
            fail(f"keep-alive restore #{i}: {st} {b[:300]!r}")
    s.close()
    fresh = []
    for i in range(10):
        t = time.monotonic()
        c = connect(url)
        c.sendall(request("GET", "/health"))
        Reader(c).response()
        fresh.append(time.monotonic() - t)
        c.close()
    mh, mr, mf = (statistics.median(reused["health"]), statistics.median(reused["restore"]),
                  statistics.median(fresh))
    print(f"median: /health reused {mh * 1e3:.1f} ms, fresh {mf * 1e3:.1f} ms; "
          f"restore reused {mr * 1e3:.1f} ms")
    # A Nagle stall costs ~40 ms on every reused request; a fresh connection
    # never pays it. Compare with the fresh cost so a slow machine does not fail.
    if mh > mf + 0.030:
        fail(f"/health on a reused connection takes {mh * 1e3:.1f} ms, fresh {mf * 1e3:.1f} ms")


def early_reject(url, path, *headers):
    """Sends headers announcing a 10 MB body with Expect: 100-continue and no
    body: the final status must come without the body being sent, with no
    "100 Continue" first, and the server must close the connection."""
    s = connect(url)
    s.sendall(request("POST", path, list(headers) + ["Expect: 100-continue"], length=10_000_000))
    r = Reader(s)
    t = time.monotonic()
    try:
        st, h, b = r.response()
    except (socket.timeout, EOFError) as e:
        fail(f"no final answer without the body: {e}")
    if st == 100:
        fail("the server asked for the body (100 Continue) of a request it must refuse")
    if h.get("connection", "").lower() != "close":
        fail(f"status {st} without Connection: close: {h}")
    if not r.closed_within(5):
        fail("the server kept the connection open after refusing an unread body")
    print(f"{st} {b.decode()} ({(time.monotonic() - t) * 1e3:.1f} ms, nothing sent)")


def smuggle(url):
    """A rejected upload (bad token, no Expect) whose body is itself an HTTP
    request: that body must never be answered as a request."""
    inner = request("GET", "/api/v2/smuggled")
    s = connect(url)
    s.sendall(request("POST", "/api/v2/restore/kv", ["Authorization: Token wrong"], inner))
    r = Reader(s)
    st, h, _ = r.response()
    if st != 401:
        fail(f"expected 401, got {st}")
    try:
        st2, _, b2 = r.response()
        fail(f"the body of a rejected upload was answered as a request: {st2} {b2[:200]!r}")
    except (EOFError, ConnectionResetError, socket.timeout):
        pass
    print("401, connection closed, body never parsed")


def reuse_after_upload(url, token, shard, path):
    """A keep-alive connection serves the next request correctly after a
    successful upload, after an upload refused before its body (closed), and
    python-requests' session (keep-alive pool) carries on after a refusal."""
    import requests
    data = open(path, "rb").read()
    s = connect(url)
    r = Reader(s)
    s.sendall(restore_req(token, shard, data) + request("GET", "/health"))
    st1, _, _ = r.response()
    st2, _, b2 = r.response()
    if (st1, st2) != (204, 200) or b'"pass"' not in b2:
        fail(f"pipelined restore + /health: {st1}, {st2} {b2[:200]!r}")
    s.close()
    sess = requests.Session()
    hdr = {"Authorization": f"Token {token}", "Content-Encoding": "gzip"}
    resp = sess.post(f"{url}/api/v2/restore/shards/999999", data=data, headers=hdr)
    if resp.status_code != 404:
        fail(f"restore to an unknown shard: {resp.status_code}")
    for _ in range(3):
        resp = sess.get(f"{url}/health")
        if resp.status_code != 200 or resp.json()["status"] != "pass":
            fail(f"/health after a refused upload: {resp.status_code}")
    resp = sess.post(f"{url}/api/v2/restore/shards/{shard}", data=data, headers=hdr)
    if resp.status_code != 204:
        fail(f"restore after a refused upload: {resp.status_code} {resp.text}")
    print("pipelined restore + /health: 204, 200; session after a 404 upload: 200, 204")


def stall_body(url, token, shard, path):
    """Sends half the body, then nothing: the server must answer 408 and
    close within the body idle timeout (plus civetweb's wait granularity)."""
    data = open(path, "rb").read()
    s = connect(url, timeout=60)
    req = restore_req(token, shard, data)
    s.sendall(req[: len(req) - len(data) // 2])
    t = time.monotonic()
    r = Reader(s)
    try:
        st, h, b = r.response()
    except (EOFError, socket.timeout) as e:
        fail(f"no answer to a stalled body: {e}")
    el = time.monotonic() - t
    if st != 408:
        fail(f"stalled body: expected 408, got {st} {b[:300]!r}")
    print(f"408 after {el:.1f} s: {b.decode()}")


def hold_upload(url, token, shard, path, seconds, marker):
    """Uploads the archive slowly for SECONDS (so the upload holds its slot
    all along), then hangs up; the answer does not matter. Creates MARKER
    once the server has the first bytes."""
    data = open(path, "rb").read()
    s = connect(url, timeout=60)
    s.sendall(request("POST", f"/api/v2/restore/shards/{shard}",
                      [f"Authorization: Token {token}", "Content-Encoding: gzip"],
                      length=len(data)))
    end = time.monotonic() + float(seconds)
    off = 0
    try:
        while time.monotonic() < end and off < len(data) - 50:
            s.sendall(data[off:off + 50])
            off += 50
            if off == 100:
                open(marker, "w").close()
            time.sleep(0.2)
    except (ConnectionResetError, BrokenPipeError):
        s.settimeout(1)
        try:
            fail(f"upload refused after {off} bytes: {s.recv(1000)!r}")
        except OSError as e:
            fail(f"upload cut after {off} bytes: {e}")
    s.close()


def stalled_headers(url, n, seconds, token, shard, path):
    """Opens N connections that send half a request line and stop, then
    times GET /health and a small restore through curl (fresh connections,
    curl's default headers); both must answer within a second. Then waits
    until the server has cut every stalled connection (header timeout)."""
    n, seconds = int(n), float(seconds)
    socks = []
    for _ in range(n):
        c = connect(url)
        c.sendall(b"GET /heal")
        socks.append(c)
    time.sleep(0.2)
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-m", "5", "-w",
                          "%{http_code} %{time_total}", f"{url}/health"],
                         capture_output=True, text=True).stdout.split()
    if out[0] != "200" or float(out[1]) > 1.0:
        fail(f"/health with {n} stalled connections: {out}")
    print(f"/health with {n} stalled connections: {out[0]} in {float(out[1]) * 1e3:.1f} ms")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-m", "5", "-w",
                          "%{http_code} %{time_total}", "-X", "POST", "-T", path,
                          "-H", f"Authorization: Token {token}", "-H", "Content-Encoding: gzip",
                          f"{url}/api/v2/restore/shards/{shard}"],
                         capture_output=True, text=True).stdout.split()
    if out[0] != "204" or float(out[1]) > 1.0:
        fail(f"restore with {n} stalled connections: {out}")
    print(f"restore with {n} stalled connections: {out[0]} in {float(out[1]) * 1e3:.1f} ms")
    deadline = time.monotonic() + seconds
    open_left = 0
    for c in socks:
        if not Reader(c).closed_within(max(0.01, deadline - time.monotonic())):
            open_left += 1
        c.close()
    if open_left:
        fail(f"{open_left} of {n} stalled connections still open after {seconds} s")
    print(f"all {n} stalled connections cut within {seconds} s")


if __name__ == "__main__":
    cmds = {"keepalive": keepalive, "early-reject": early_reject, "smuggle": smuggle,
            "reuse-after-upload": reuse_after_upload, "stall-body": stall_body,
            "hold-upload": hold_upload, "stalled-headers": stalled_headers}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[sys.argv[1]](*sys.argv[2:])
