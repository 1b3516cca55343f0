"""Test harness: start the real plughttpd binary on an ephemeral port.

Environment (set by `make check`):
  PH_BINARY      path of the plughttpd binary
  PH_PLUGIN_DIR  folder holding the built plugins (echo.so, static.so, ...)
  PH_FIXTURE_DIR folder holding the test fixture plugins
  PH_SRCDIR      top of the source tree

Optional (set by `make check-valgrind` and the CI sanitizer pass):
  PH_WRAPPER     command words put in front of the server command, e.g.
                 "valgrind --error-exitcode=1 ..."; empty by default
  PH_STRICT_EXIT "1": stop() fails the test when the server, stopped with
                 SIGTERM/SIGINT, does not exit 0 or its log holds a
                 valgrind or sanitizer error report. On whenever PH_WRAPPER
                 is set.

A server is started with `listen = 127.0.0.1:0`; the harness reads the
"listening on HOST:PORT" lines the server logs at start-up, then waits for its
"ready" line. Every helper is bounded in time.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

BINARY = os.environ.get("PH_BINARY", "plughttpd")
PLUGIN_DIR = os.environ.get("PH_PLUGIN_DIR", "")
FIXTURE_DIR = os.environ.get("PH_FIXTURE_DIR", "")
SRCDIR = os.environ.get("PH_SRCDIR", ".")
WRAPPER = os.environ.get("PH_WRAPPER", "").split()
STRICT_EXIT = bool(WRAPPER) or os.environ.get("PH_STRICT_EXIT", "") == "1"
# What valgrind, ASan, LSan and UBSan print when they find something.
_TOOL_ERROR = re.compile(r"ERROR SUMMARY: [1-9]|ERROR: (?:Address|Leak)Sanitizer|"
                         r"runtime error:|SUMMARY: UndefinedBehaviorSanitizer")

START_TIMEOUT = 60.0 if WRAPPER else 15.0
# Server.signal() shadows the module inside the class body: keep a name for
# stop()'s default.
_SIGTERM = signal.SIGTERM
IO_TIMEOUT = 10.0


def server_ini(routes="", server_extra="", threads=1, listen=("127.0.0.1:0",),
               access_log="-"):
    """Compose a server.ini with an ephemeral listener and the build's plugins."""
    lines = ["[server]"]
    for l in listen:
        lines.append("listen = %s" % l)
    lines.append("threads = %s" % threads)
    lines.append("plugin_dir = %s" % PLUGIN_DIR)
    lines.append("access_log = %s" % access_log)
    if server_extra:
        lines.append(server_extra.strip())
    lines.append("")
    lines.append(routes.strip())
    lines.append("")
    return "\n".join(lines)


class Server:
    """A running plughttpd. Use as a context manager or call stop()."""

    def __init__(self, ini_text, args=(), files=None, expect_ready=True, env=None,
                 rlimit_nofile=None):
        """rlimit_nofile: if set, the server runs with RLIMIT_NOFILE lowered
        to that many descriptors (soft and hard)."""
        self.dir = tempfile.mkdtemp(prefix="phtest-")
        self.ini = os.path.join(self.dir, "server.ini")
        for name, content in (files or {}).items():
            path = os.path.join(self.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(path, mode) as f:
                f.write(content)
        with open(self.ini, "w") as f:
            f.write(ini_text)
        self.addresses = []
        self.log_lines = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._exited = threading.Event()
        penv = dict(os.environ)
        if env:
            penv.update(env)
        preexec = None
        if rlimit_nofile is not None:
            def preexec():
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (rlimit_nofile, rlimit_nofile))
        self._stopping_sig = None
        self.proc = subprocess.Popen(WRAPPER + [BINARY, "-c", self.ini] + list(args),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=penv,
                                     preexec_fn=preexec)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if expect_ready:
            if not self._ready.wait(START_TIMEOUT):
                self.stop()
                raise RuntimeError("server did not become ready:\n" + self.log())

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.log_lines.append(line)
            m = re.search(r"listening on (\S+)", line)
            if m:
                self.addresses.append(m.group(1))
            if re.search(r"\bready\b", line):
                self._ready.set()
        self._exited.set()

    # --- addresses -------------------------------------------------------
    @property
    def port(self):
        for a in self.addresses:
            m = re.match(r"^(?:127\.0\.0\.1|\[::1\]|0\.0\.0\.0|\[::\]):(\d+)$", a)
            if m:
                return int(m.group(1))
        raise RuntimeError("no TCP listener in " + repr(self.addresses))

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log(self):
        with self._lock:
            return "\n".join(self.log_lines)

    def wait_log(self, pattern, timeout=IO_TIMEOUT):
        """Wait until a log line matches pattern; return the match or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                for line in self.log_lines:
                    m = re.search(pattern, line)
                    if m:
                        return m
            time.sleep(0.02)
        return None

    # --- talking to it ---------------------------------------------------
    def connect(self, timeout=IO_TIMEOUT):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s

    def raw(self, data, timeout=IO_TIMEOUT, half_close=False):
        """Send bytes on a new connection, read until the server closes."""
        s = self.connect(timeout)
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            return recv_all(s, timeout)
        finally:
            s.close()

    def get(self, path, headers=None, method="GET", body=None, timeout=IO_TIMEOUT):
        """One request with Connection: close; returns a Response."""
        h = {"Host": "localhost", "Connection": "close"}
        h.update(headers or {})
        if body is not None and "Content-Length" not in h and "Transfer-Encoding" not in h:
            h["Content-Length"] = str(len(body))
        req = "%s %s HTTP/1.1\r\n" % (method, path)
        req += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        data = req.encode("latin-1") + (body or b"")
        resps = parse_responses(self.raw(data, timeout), head=(method == "HEAD"))
        if not resps:
            raise AssertionError("no response")
        return resps[0]

    # --- stopping ----------------------------------------------------------
    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=_SIGTERM, timeout=20.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._exited.wait(5)
        if self._exited.is_set() and self.proc.stderr:
            self.proc.stderr.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def recv_all(s, timeout=IO_TIMEOUT):
    """Read until EOF or timeout; returns the bytes read."""
    s.settimeout(timeout)
    chunks = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<Response %d %r %d bytes>" % (self.status, self.headers, len(self.body))


def parse_responses(data, head=False):
    """Split a byte stream into responses. head=True: bodies are absent."""
    out = []
    heads = head if isinstance(head, (list, tuple)) else None
    i = 0
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0:
            raise AssertionError("truncated response head: %r" % data[i:i + 200])
        lines = data[i:end].decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers.append((k, v.strip()))
        i = end + 4
        r = Response(version, int(status), reason, headers, b"")
        is_head = heads[len(out)] if heads is not None and len(out) < len(heads) else (head is True)
        if r.status in (204, 304) or 100 <= r.status < 200 or is_head:
            body = b""
        elif r.header("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                le = data.index(b"\r\n", i)
                size = int(data[i:le].split(b";")[0], 16)
                i = le + 2
                if size == 0:
                    te = data.index(b"\r\n\r\n", i - 2)
                    i = te + 4
                    break
                body += data[i:i + size]
                i += size + 2
        elif r.header("Content-Length") is not None:
            n = int(r.header("Content-Length"))
            body = data[i:i + n]
            if len(body) != n:
                raise AssertionError("short body: %d of %d" % (len(body), n))
            i += n
        else:
            body = data[i:]
            i = len(data)
        r.body = body
        out.append(r)
    return out


# --- helpers for keep-alive sockets (added for the core tests) -------------

def read_responses(sock, count, head=False, timeout=IO_TIMEOUT):
    """Read from an open socket until `count` whole responses have arrived,
    the peer closes, or timeout; returns the parsed responses (possibly
    fewer than count) and leaves the socket open. head as parse_responses."""
    data = b""
    deadline = time.time() + timeout
    while True:
        try:
            resps = parse_responses(data, head=head)
            if len(resps) >= count:
                return resps
        except (AssertionError, ValueError):
            pass  # the last response is still incomplete
        left = deadline - time.time()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return parse_responses(data, head=head)


def read_head(sock, timeout=IO_TIMEOUT):
    """Read byte by byte up to and including the first empty line (CRLF
    CRLF); returns those bytes (fewer on EOF or timeout), nothing more."""
    data = b""
    deadline = time.time() + timeout
    while not data.endswith(b"\r\n\r\n"):
        left = deadline - time.time()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            b = sock.recv(1)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        data += b
    return data


def recv_until_closed(sock, timeout=IO_TIMEOUT):
    """Read until the peer closes or timeout. Returns (data, closed), closed
    True when the peer closed (EOF or reset) within the timeout."""
    chunks = []
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return b"".join(chunks), False
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return b"".join(chunks), False
        except ConnectionResetError:
            return b"".join(chunks), True
        if not b:
            return b"".join(chunks), True
        chunks.append(b)


def main():
    unittest.main(verbosity=2)
