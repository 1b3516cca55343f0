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
  PH_SANITIZED   "1": the server is an ASan/UBSan build (harness.SANITIZED)
  PH_KEEP_TMP    "1": keep the servers' phtest-* scratch folders at exit

A server is started with `listen = 127.0.0.1:0`; the harness reads the
"listening on HOST:PORT" lines the server logs at start-up, then waits for its
"ready" line. Every helper is bounded in time.
"""

import atexit
import os
import re
import shutil
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
MISBEHAVE = os.path.join(FIXTURE_DIR, "misbehave.so")


def fixture_routes(slow=False):
    """Routes of echo at /echo and the misbehave fixture at /mb; with slow,
    the fixture again at /slow as a blocking route."""
    text = "[route /echo]\nplugin = echo\n\n[route /mb]\nplugin = %s\n" % MISBEHAVE
    if slow:
        text += "\n[route /slow]\nplugin = %s\nblocking = yes\n" % MISBEHAVE
    return text
SRCDIR = os.environ.get("PH_SRCDIR", ".")


def header_abi():
    """"1.N": the ABI of the source tree's plugin.h (PH_ABI_MAJOR and
    PH_ABI_MINOR), which the server and every plugin built here report."""
    with open(os.path.join(SRCDIR, "include", "plughttpd", "plugin.h")) as f:
        code = f.read()
    return "%s.%s" % (re.search(r"#define PH_ABI_MAJOR (\d+)u", code).group(1),
                      re.search(r"#define PH_ABI_MINOR (\d+)u", code).group(1))


WRAPPER = os.environ.get("PH_WRAPPER", "").split()
STRICT_EXIT = bool(WRAPPER) or os.environ.get("PH_STRICT_EXIT", "") == "1"
# The server is built with ASan/UBSan (CI sanitizer pass): its RSS is not
# comparable with a normal build's (quarantine, shadow memory).
SANITIZED = os.environ.get("PH_SANITIZED", "") == "1"
# What valgrind, ASan, LSan and UBSan print when they find something.
_TOOL_ERROR = re.compile(r"ERROR SUMMARY: [1-9]|ERROR: (?:Address|Leak)Sanitizer|"
                         r"runtime error:|SUMMARY: UndefinedBehaviorSanitizer")

START_TIMEOUT = 60.0 if WRAPPER else 15.0
# Server.signal() shadows the module inside the class body: keep a name for
# stop()'s default.
_SIGTERM = signal.SIGTERM
_SIGHUP = signal.SIGHUP
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


# Every server's scratch folder (config, logs, fixtures) is removed when
# the test program exits, not at stop(): tests read logs and files after
# stopping a server. PH_KEEP_TMP=1 keeps them for a post-mortem.
_SCRATCH_DIRS = []


def _remove_scratch_dirs():
    if os.environ.get("PH_KEEP_TMP"):
        return
    for d in _SCRATCH_DIRS:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_scratch_dirs)


class Server:
    """A running plughttpd. Use as a context manager or call stop()."""

    def __init__(self, ini_text, args=(), files=None, expect_ready=True, env=None,
                 rlimit_nofile=None, launcher=(), pass_fds=()):
        """rlimit_nofile: if set, the server runs with RLIMIT_NOFILE lowered
        to that many descriptors (soft and hard). launcher: a command put
        in front of the server's (it must exec what follows it); pass_fds:
        descriptors the server (or its launcher) inherits."""
        self.dir = tempfile.mkdtemp(prefix="phtest-")
        _SCRATCH_DIRS.append(self.dir)
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
        # Under a master (the default, processes = 1), each worker says
        # "ready" for itself before the master has started the next: only
        # the master's line counts. processes = 0 is the one process.
        m = re.search(r"^processes\s*=\s*(\d+)", ini_text, re.M)
        self.processes = int(m.group(1)) if m else 1
        self._ready_re = r"\bready\b" if self.processes == 0 else r"\bready: plughttpd \S+ master\b"
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
        self.proc = subprocess.Popen(list(launcher) + WRAPPER + [BINARY, "-c", self.ini] + list(args),
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=penv,
                                     preexec_fn=preexec, pass_fds=tuple(pass_fds))
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
            if re.search(self._ready_re, line):
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

    def serving_pid(self, timeout=10):
        """The process that serves requests, whose descriptors, memory and
        CPU a test measures: the server itself with processes = 0, else
        its one worker process (the default, processes = 1), as it is now
        (a reload or a crash replaces it)."""
        if self.processes == 0:
            return self.proc.pid
        if self.processes != 1:
            raise AssertionError("serving_pid: %d worker processes" % self.processes)
        deadline = time.time() + timeout
        while True:
            kids = proc_children(self.proc.pid)
            if len(kids) == 1 or time.time() > deadline:
                break
            time.sleep(0.01)
        if len(kids) != 1:
            raise AssertionError("serving_pid: worker processes %r" % kids)
        return kids[0]

    def log(self):
        # A server that has exited may still have lines in the pipe that the
        # reader thread has not taken yet: let it reach the end first.
        if self.proc.poll() is not None:
            self._reader.join(10)
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

    def reload(self, text, pattern, timeout=IO_TIMEOUT):
        """Write text as the server's ini, send SIGHUP, and wait for a log
        line matching pattern (which should match both the success and the
        failure line); returns the match or None."""
        with open(self.ini, "w") as f:
            f.write(text)
        self.signal(_SIGHUP)
        return self.wait_log(pattern, timeout)

    def stop(self, sig=_SIGTERM, timeout=20.0):
        graceful = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            graceful = sig in (signal.SIGTERM, signal.SIGINT)
            try:
                self.proc.wait(timeout * (3 if WRAPPER else 1))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                graceful = False
        self._exited.wait(5)
        if self._exited.is_set() and self.proc.stderr:
            self.proc.stderr.close()
        if STRICT_EXIT:
            self._check_clean_exit(graceful)
        return self.proc.returncode

    def _check_clean_exit(self, graceful):
        """Under a memory checker (PH_WRAPPER, PH_STRICT_EXIT): its reports
        fail the test, and so does a non-zero exit after a graceful stop
        (valgrind's --error-exitcode, LSan's exit code)."""
        m = _TOOL_ERROR.search(self.log())
        if m or (graceful and self.proc.returncode != 0):
            raise AssertionError("server exited %s, memory checker report:\n%s"
                                 % (self.proc.returncode, self.log()[-20000:]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def settle(fn, ok, timeout=10.0):
    """Polls fn() until ok(value) or timeout; returns the last value."""
    deadline = time.time() + timeout
    v = fn()
    while not ok(v) and time.time() < deadline:
        time.sleep(0.05)
        v = fn()
    return v


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


def unit_values(text, key):
    """Every value of key in a systemd unit, in order (comments skipped)."""
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith(("#", ";")) or "=" not in line:
            continue
        k, _, v = line.partition("=")
        if k.strip() == key:
            out.append(v.strip())
    return out


def main():
    unittest.main(verbosity=2)


# --- helpers for the reload, process and service tests (issue 5) ------------

def wait_log_from(srv, pattern, start=0, timeout=IO_TIMEOUT, poll=0.002):
    """Wait for a log line matching pattern at index >= start. Returns
    (match, index of the line after it), or (None, start) on timeout.
    Polls briefly, for loops that wait for thousands of lines."""
    rx = re.compile(pattern)
    deadline = time.time() + timeout
    i = start
    while True:
        with srv._lock:
            lines = srv.log_lines[i:]
        for line in lines:
            i += 1
            m = rx.search(line)
            if m:
                return m, i
        if time.time() >= deadline:
            return None, start
        time.sleep(poll)


def log_count(srv):
    """Number of log lines read so far (a start index for wait_log_from)."""
    with srv._lock:
        return len(srv.log_lines)


def have_ipv6_loopback():
    """Whether this machine can bind ::1 (some containers have no IPv6)."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def log_count_of(srv, pattern, start):
    """Log lines from index start on that match pattern."""
    with srv._lock:
        lines = srv.log_lines[start:]
    return sum(1 for line in lines if re.search(pattern, line))


def proc_fd_count(pid):
    """Open descriptors of a process, from /proc/PID/fd."""
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_fd_targets(pid):
    """Targets of /proc/PID/fd links (those that vanish meanwhile skipped)."""
    out = []
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, name)))
        except OSError:
            pass
    return out


def proc_status_field(pid, field):
    """A field of /proc/PID/status (e.g. "VmRSS", "Uid") as its text."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == field:
                return v.strip()
    return None


def proc_rss_kib(pid):
    return int(proc_status_field(pid, "VmRSS").split()[0])


def proc_mapped_objects(pid, name_part):
    """Distinct (device, inode) of the file mappings whose path holds
    name_part: one per loaded copy of a shared object."""
    objs = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and name_part in parts[5]:
                objs.add((parts[3], parts[4]))
    return objs


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def proc_children(pid):
    """PIDs whose parent is pid (read from /proc/*/stat)."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # the command may hold spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(name))
    return sorted(kids)


def read_one_response(sock, buf, timeout=IO_TIMEOUT):
    """Read one whole response (Content-Length or chunked) from a keep-alive
    socket. buf is a bytearray holding bytes already received; the bytes
    after the response stay in it. Returns a Response; raises
    ConnectionError (EOF or reset before a whole response) or socket.timeout."""
    deadline = time.time() + timeout

    def fill():
        left = deadline - time.time()
        if left <= 0:
            raise socket.timeout("response not complete within %.1f s" % timeout)
        sock.settimeout(left)
        b = sock.recv(65536)
        if not b:
            raise ConnectionError("EOF after %d bytes of a response" % len(buf))
        buf.extend(b)

    while b"\r\n\r\n" not in buf:
        fill()
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    version, status, reason = (head[0].split(" ", 2) + [""])[:3]
    headers = []
    for l in head[1:]:
        k, _, v = l.partition(":")
        headers.append((k, v.strip()))
    r = Response(version, int(status), reason, headers, b"")
    del buf[:end + 4]
    if r.status in (204, 304) or 100 <= r.status < 200:
        return r
    if r.header("Transfer-Encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in buf:
                fill()
            le = buf.index(b"\r\n")
            size = int(bytes(buf[:le]).split(b";")[0], 16)
            if size == 0:
                while b"\r\n\r\n" not in buf[le:]:
                    fill()
                te = buf.index(b"\r\n\r\n", le)
                del buf[:te + 4]
                break
            while len(buf) < le + 2 + size + 2:
                fill()
            body += buf[le + 2:le + 2 + size]
            del buf[:le + 2 + size + 2]
        r.body = bytes(body)
        return r
    n = int(r.header("Content-Length", "0"))
    while len(buf) < n:
        fill()
    r.body = bytes(buf[:n])
    del buf[:n]
    return r


class KeepAliveLoad:
    """A bounded load generator: `conns` threads, each with one keep-alive
    connection to 127.0.0.1:port, sending GET requests in turn over `paths`
    and checking each whole response with check(path, response), which
    returns None when it is right or a reason.

    A response with "Connection: close" ends the connection normally and the
    client opens a new one. Anything else (reset, EOF before a whole
    response, timeout, refused connect, wrong response) is a failure and is
    recorded in self.failures as a dict. With retry=True a failed request
    is sent again on a new connection (at most `max_retries` times) so that
    service continuity can be checked; with retry=False the thread stops
    at its first failure.

    Each thread stops at stop(), after max_requests requests, or after
    max_seconds, whichever comes first."""

    def __init__(self, port, paths, check, conns=50, max_requests=100000, max_seconds=120.0,
                 retry=False, max_retries=20, timeout=IO_TIMEOUT, close=False, pause=0.0):
        self.port = port
        self.pause = pause  # seconds between two requests of one thread
        self.close = close  # send "Connection: close": one request per connection
        self.paths = list(paths)
        self.check = check
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.retry = retry
        self.max_retries = max_retries
        self.timeout = timeout
        self.lock = threading.Lock()
        self.failures = []
        self.ok = 0
        self.server_closes = 0
        self.seen = {}           # (path, body) -> count, for the caller's checks
        self.headers_seen = {}   # header value of X-Swap-Pid -> count
        self.conn_pids = []      # per connection: (opened_at, set of X-Swap-Pid seen)
        self.unanswered = 0      # requests given up after max_retries
        self._stop = threading.Event()
        self._first = threading.Barrier(conns + 1)
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(conns)]

    def start(self):
        for t in self.threads:
            t.start()
        # every connection has had a first answer (or failed) before we return
        try:
            self._first.wait(self.timeout + 5)
        except threading.BrokenBarrierError:
            pass
        return self

    def stop(self, timeout=None):
        self._stop.set()
        deadline = time.time() + (timeout if timeout is not None else self.timeout + 10)
        for t in self.threads:
            t.join(max(0.0, deadline - time.time()))
        return all(not t.is_alive() for t in self.threads)

    def wait_requests(self, n, timeout):
        """Wait until at least n more requests have succeeded (bounded)."""
        with self.lock:
            target = self.ok + n
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if self.ok >= target:
                    return True
            time.sleep(0.01)
        return False

    def summary(self, limit=10):
        """The failures in short: count, then (kind, path, detail, seconds
        the connection had been open) for the first few."""
        with self.lock:
            fs = list(self.failures)
        return "%d failures, %d ok: %r" % (len(fs), self.ok, [
            (f["kind"], f["path"], f["detail"], round(f["at"] - f["opened"], 4)) for f in fs[:limit]])

    def _record(self, kind, path, detail, opened, pids):
        with self.lock:
            self.failures.append({"kind": kind, "path": path, "detail": detail, "at": time.time(),
                                  "opened": opened, "pids": set(pids)})

    def _run(self, idx):
        started = time.time()
        sock = None
        buf = bytearray()
        opened = 0.0
        pids = set()
        sent = 0
        first_done = False
        k = idx
        try:
            while (not self._stop.is_set() and sent < self.max_requests
                   and time.time() - started < self.max_seconds):
                path = self.paths[k % len(self.paths)]
                k += 1
                attempts = 0
                while True:
                    failure = None
                    try:
                        if sock is None:
                            opened = time.time()
                            pids = set()
                            with self.lock:
                                self.conn_pids.append((opened, pids))
                            sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
                            buf = bytearray()
                        sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n"
                                      % (path, "Connection: close\r\n" if self.close else "")).encode())
                        r = read_one_response(sock, buf, self.timeout)
                    except ConnectionRefusedError as e:
                        failure = ("refused", repr(e))
                    except ConnectionResetError as e:
                        failure = ("reset", repr(e))
                    except BrokenPipeError as e:
                        failure = ("reset", repr(e))
                    except ConnectionError as e:
                        failure = ("eof", str(e))
                    except socket.timeout as e:
                        failure = ("timeout", str(e))
                    except OSError as e:
                        failure = ("oserror", repr(e))
                    except (ValueError, IndexError) as e:
                        failure = ("garbled", repr(e))
                    if failure is None:
                        pid = r.header("X-Swap-Pid")
                        if pid:
                            pids.add(pid)
                        why = self.check(path, r)
                        if why is not None:
                            failure = ("wrong", why)
                    if failure is None:
                        with self.lock:
                            self.ok += 1
                            key = (path, r.body if len(r.body) <= 64 else b"<%d bytes>" % len(r.body))
                            self.seen[key] = self.seen.get(key, 0) + 1
                            if pid:
                                self.headers_seen[pid] = self.headers_seen.get(pid, 0) + 1
                        if r.header("Connection", "").lower() == "close":
                            with self.lock:
                                self.server_closes += 1
                            sock.close()
                            sock = None
                        break
                    self._record(failure[0], path, failure[1], opened, pids)
                    if sock is not None:
                        sock.close()
                        sock = None
                    attempts += 1
                    if not self.retry:
                        return
                    if attempts > self.max_retries or self._stop.is_set():
                        with self.lock:
                            self.unanswered += 1
                        break
                    time.sleep(0.02)
                sent += 1
                if self.pause:
                    time.sleep(self.pause)
                if not first_done:
                    first_done = True
                    try:
                        self._first.wait(self.timeout + 5)
                    except threading.BrokenBarrierError:
                        pass
        finally:
            if sock is not None:
                sock.close()
            if not first_done:
                try:
                    self._first.wait(0)
                except threading.BrokenBarrierError:
                    pass


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET.
    Collects each datagram as a dict of its KEY=VALUE lines, with the
    receive time (CLOCK_MONOTONIC, µs) under "_received"."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def env(self):
        return {"NOTIFY_SOCKET": self.path}

    def _recv(self, timeout):
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        msg = {"_received": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000,
               "_raw": data.decode("utf-8", "replace")}
        for line in msg["_raw"].split("\n"):
            k, sep, v = line.partition("=")
            if sep:
                msg[k] = v
        self.messages.append(msg)
        return msg

    def wait_for(self, key, value=None, timeout=IO_TIMEOUT):
        """Receive until a message has key (=value when given); returns it or
        None. Earlier messages stay in self.messages."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            msg = self._recv(left)
            if msg is not None and key in msg and (value is None or msg[key] == value):
                return msg

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
