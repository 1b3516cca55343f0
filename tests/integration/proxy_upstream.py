"""Upstream servers for test_proxy.py: a small HTTP/1.1 server whose
behaviour each path chooses (echo of what it received, stalls, cuts,
chunked with trailers, 1xx, WebSocket), recording every connection and
request so tests can see exactly what the proxy sent."""

import base64
import hashlib
import json
import socket
import threading
import time


def behaviour(target):
    """The path below the proxy's route prefix ("/app/stall" -> "/stall"),
    which chooses what the upstream does; a one-segment path is itself."""
    path = target.split("?")[0]
    parts = path.split("/")
    return "/" + "/".join(parts[2:]) if len(parts) > 2 else path


class Request:
    def __init__(self, conn_id, method, target, headers, framing, body):
        self.conn_id = conn_id
        self.method = method
        self.target = target
        self.headers = headers      # [(name, value)] as received
        self.framing = framing      # "none", "length", "chunked"
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Upstream:
    """Listens on 127.0.0.1 (an ephemeral port unless port is given)."""

    def __init__(self, name="up", port=0, backlog=128):
        self.name = name
        self.lock = threading.Lock()
        self.requests = []
        self.connections = 0
        self.healthy = True
        self.release = threading.Event()
        self.arrived = threading.Condition(self.lock)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.closed = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        self.release.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def count(self, path_prefix=""):
        with self.lock:
            return sum(1 for r in self.requests if r.target.startswith(path_prefix))

    def wait_requests(self, n, timeout=10.0):
        deadline = time.time() + timeout
        with self.lock:
            while len(self.requests) < n and time.time() < deadline:
                self.arrived.wait(0.05)
            return len(self.requests) >= n

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                cid = self.connections
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c, cid), daemon=True).start()

    # --- reading ---------------------------------------------------------
    def _serve(self, c, cid):
        buf = b""
        served = 0
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = []
                for l in lines[1:]:
                    k, _, v = l.partition(":")
                    headers.append((k, v.strip()))
                hmap = {k.lower(): v for k, v in headers}
                path = behaviour(target)
                framing, body = "none", b""
                discard = path.startswith("/sink")
                if path.startswith("/nobody-read"):
                    # reads nothing more: the proxy's send must time out
                    self._record(Request(cid, method, target, headers, "none", b""))
                    self.release.wait(30)
                    return
                if "transfer-encoding" in hmap:
                    framing = "chunked"
                    body, buf = self._read_chunked(c, buf, discard)
                elif "content-length" in hmap:
                    framing = "length"
                    body, buf = self._read_length(c, buf, int(hmap["content-length"]), discard)
                req = Request(cid, method, target, headers, framing, body)
                self._record(req)
                served += 1
                if not self._answer(c, req, served):
                    return
        except OSError:
            return
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _record(self, req):
        with self.lock:
            self.requests.append(req)
            self.arrived.notify_all()

    def _read_length(self, c, buf, n, discard):
        got = len(buf)
        parts = [buf] if not discard else []
        count = len(buf)
        while count < n:
            d = c.recv(min(1 << 20, n - count))
            if not d:
                raise OSError("short body")
            count += len(d)
            if not discard:
                parts.append(d)
        data = b"".join(parts)
        if discard:
            return str(count).encode(), buf[n:] if got > n else b""
        return data[:n], data[n:]

    def _read_chunked(self, c, buf, discard):
        body = []
        total = 0

        def need(k):
            nonlocal buf
            while len(buf) < k:
                d = c.recv(1 << 20)
                if not d:
                    raise OSError("short chunked body")
                buf += d

        while True:
            while b"\r\n" not in buf:
                need(len(buf) + 1)
            line, _, buf = buf.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while not buf.startswith(b"\r\n"):
                    while b"\r\n" not in buf:
                        need(len(buf) + 1)
                    _, _, buf = buf.partition(b"\r\n")
                buf = buf[2:]
                break
            need(size + 2)
            total += size
            if not discard:
                body.append(buf[:size])
            buf = buf[size + 2:]
        return (str(total).encode() if discard else b"".join(body)), buf

    # --- answering -------------------------------------------------------
    def _send(self, c, status, headers, body=b"", reason="OK"):
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        head += "".join("%s: %s\r\n" % kv for kv in headers)
        c.sendall(head.encode("latin-1") + b"\r\n" + body)

    def _answer(self, c, req, served):
        """Answers req; False closes the connection."""
        path = behaviour(req.target)
        if path == "/health":
            ok = self.healthy
            self._send(c, 200 if ok else 500, [("Content-Length", "2")], b"ok" if ok else b"no")
            return True
        if path.startswith("/stall"):
            self.release.wait(30)
            return False
        if path.startswith("/hold"):
            self.release.wait(30)
        if path.startswith("/slow"):
            ms = int(req.target.split("ms=")[1]) if "ms=" in req.target else 1000
            time.sleep(ms / 1000.0)
        if path.startswith("/drop"):
            return False  # closes without an answer
        if path.startswith("/drop-second") or (path.startswith("/flaky") and served >= 2):
            return False
        if path.startswith("/garbage"):
            c.sendall(b"HTTP/1.1 two hundred\r\n\r\n")
            return False
        if path.startswith("/status999"):
            self._send(c, 999, [("Content-Length", "2")], b"ok", "Weird")
            return True
        if path.startswith("/te-gzip"):
            # a transfer coding besides chunked: the body is gzip data
            import gzip
            z = gzip.compress(b"hello")
            body = b"%x\r\n" % len(z) + z + b"\r\n0\r\n\r\n"
            self._send(c, 200, [("Transfer-Encoding", "gzip, chunked")], body)
            return True
        if path.startswith("/partial"):
            # part of the body, then nothing until released
            self._send(c, 200, [("Content-Length", "100")], b"0123456789")
            self.release.wait(30)
            return False
        if path.startswith("/cut"):
            self._send(c, 200, [("Content-Length", "100")], b"0123456789")
            return False
        if path.startswith("/chunkcut"):
            self._send(c, 200, [("Transfer-Encoding", "chunked")], b"a\r\n0123456789\r\n")
            return False
        if path.startswith("/chunked"):
            body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
            self._send(c, 200, [("Transfer-Encoding", "chunked"), ("Trailer", "X-Trailer")], body)
            return True
        if path.startswith("/until-close"):
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it, then close")
            return False
        if path.startswith("/info"):
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n"
                      b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
            self._send(c, 200, [("Content-Length", "5")], b"final")
            return True
        if path.startswith("/fixed"):
            self._send(c, 200, [("Content-Length", "10")], b"0123456789" if req.method != "HEAD" else b"")
            return True
        if path.startswith("/204"):
            self._send(c, 204, [("X-Kind", "none")], reason="No Content")
            return True
        if path.startswith("/304"):
            self._send(c, 304, [("ETag", '"v1"')], reason="Not Modified")
            return True
        if path.startswith("/manyconn"):
            opts = ", ".join("x-o%d" % i for i in range(40))
            self._send(c, 200, [("Connection", opts), ("Content-Length", "2")], b"ok")
            return True
        if path.startswith("/hop"):
            self._send(c, 200, [("Connection", "X-Bar, keep-alive"), ("X-Bar", "1"), ("Keep-Alive", "timeout=5"),
                                ("Server", "upstream/1"), ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
                                ("Proxy-Authenticate", "Basic"), ("Trailer", "X-T"), ("Upgrade", "h2c"),
                                ("X-Keep", "yes"), ("Content-Length", "2")], b"ok")
            return True
        if (req.header("Upgrade") or "").lower() == "websocket":
            return self._websocket(c, req)
        if path.startswith("/early"):
            # answers before the body is read, then closes
            self._send(c, 413, [("Content-Length", "8"), ("Connection", "close")], b"too big\n", "Too Large")
            return False
        # default: who we are and what we got
        info = {"upstream": self.name, "method": req.method, "target": req.target, "headers": req.headers,
                "framing": req.framing, "body_len": len(req.body),
                "body_sha": hashlib.sha256(req.body).hexdigest()}
        if path.startswith("/sink"):
            info["body_len"] = int(req.body)
        body = json.dumps(info).encode()
        if req.method == "HEAD":
            self._send(c, 200, [("Content-Length", str(len(body))), ("Content-Type", "application/json")])
        else:
            self._send(c, 200, [("Content-Length", str(len(body))), ("Content-Type", "application/json")], body)
        return (req.header("Connection") or "").lower() != "close"

    def _echo_bytes(self, c):
        """After a 101: echoes every byte back as it comes, writing each
        piece whole before reading more (as a simple echo server does)."""
        total = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
            total += len(d)
        self.echoed = total
        return False

    def _flood(self, c):
        """After a 101: writes bytes until the connection fails, counting
        them (self.flooded), for a client that never reads."""
        chunk = b"x" * 65536
        self.flooded = 0
        try:
            while True:
                self.flooded += c.send(chunk)
        except OSError:
            pass
        return False

    def _websocket(self, c, req):
        key = req.header("Sec-WebSocket-Key")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                  .digest()).decode()
        self._send(c, 101, [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)],
                   reason="Switching Protocols")
        if behaviour(req.target).startswith("/echo-bytes"):
            return self._echo_bytes(c)
        if behaviour(req.target).startswith("/flood"):
            return self._flood(c)
        buf = b""
        while True:
            frame, buf = ws_read_frame(c, buf)
            if frame is None:
                return False
            opcode, payload = frame
            if opcode == 8:
                c.sendall(ws_frame(8, payload, mask=False))
                return False
            c.sendall(ws_frame(opcode, payload, mask=False))


def ws_frame(opcode, payload, mask=True):
    head = bytes([0x80 | opcode])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([m | 127]) + n.to_bytes(8, "big")
    if mask:
        key = b"\x01\x02\x03\x04"
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def ws_read_frame(c, buf):
    def need(k):
        nonlocal buf
        while len(buf) < k:
            d = c.recv(65536)
            if not d:
                raise EOFError
            buf += d
    try:
        need(2)
        opcode = buf[0] & 0x0F
        masked = buf[1] & 0x80
        n = buf[1] & 0x7F
        off = 2
        if n == 126:
            need(4)
            n = int.from_bytes(buf[2:4], "big")
            off = 4
        elif n == 127:
            need(10)
            n = int.from_bytes(buf[2:10], "big")
            off = 10
        key = b""
        if masked:
            need(off + 4)
            key = buf[off:off + 4]
            off += 4
        need(off + n)
        payload = buf[off:off + n]
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return (opcode, payload), buf[off + n:]
    except (EOFError, OSError):
        return None, buf
