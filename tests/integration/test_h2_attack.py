#!/usr/bin/env python3
"""HTTP/2 under attack and at its edges: HEAD, 204 and 304 answers of
every body kind (memory, referenced, file, stream, filtered, a
coroutine's co_respond stream) send no body and pull none; a header block
left open holds the connection no longer than header_timeout; a request
body below body_min_rate ends its stream, not the connection; Host must
agree with :authority; a body of unknown length reaches a proxied
upstream; a stream that waits for the connection's window withheld
by paused bodies is not too slow."""

import os
import socket
import struct
import time
import unittest

import h2util  # first: it may re-run this test under Debian's python3
from h2util import H2Client, PREFACE, encode_headers, frame

from api13 import route
from harness import IO_TIMEOUT, Server, log_count, main, server_ini, wait_log_from

# frame types and flags (RFC 9113 section 6)
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 7, 8, 9
END_STREAM, END_HEADERS = 0x1, 0x4
NO_ERROR, CANCEL = 0x0, 0x8

BIG = os.urandom(300 * 1024)  # over static's cache_max_file: a file body
FILES = {"www/small.txt": b"small file\n", "www/big.bin": BIG}


def h2c_ini(routes, server_extra=""):
    return server_ini(routes, server_extra=server_extra, listen=("127.0.0.1:0 h2c",))


class Raw:
    """An HTTP/2 connection written and read frame by frame, for what
    python3-h2 hides (which frames carried a response, their flags) or
    refuses to send. Windows are opened wide at the start, so responses
    flow without WINDOW_UPDATEs."""

    def __init__(self, port, settings=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.enc, self.dec = h2util.hpack.Encoder(), h2util.hpack.Decoder()
        self.buf = b""
        self.next_sid = 1
        if settings:
            self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0x7fffffff)) +
                              frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff - 65535)))

    def close(self):
        self.sock.close()

    def block(self, path, method="GET", authority="localhost", extra=()):
        head = [(":method", method), (":path", path), (":scheme", "http")]
        if authority is not None:
            head.append((":authority", authority))
        return self.enc.encode(head + list(extra))

    def request(self, path, method="GET", authority="localhost", extra=(), end=True):
        sid = self.next_sid
        self.next_sid += 2
        flags = END_HEADERS | (END_STREAM if end else 0)
        self.sock.sendall(frame(HEADERS, flags, sid, self.block(path, method, authority, extra)))
        return sid

    def frame(self, timeout=IO_TIMEOUT):
        """The next frame (type, flags, stream id, payload; a HEADERS
        payload decoded to a dict), or None when the server closed."""
        deadline = time.time() + timeout
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no frame")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self.buf += data
        n = int.from_bytes(self.buf[:3], "big")
        ftype, flags = self.buf[3], self.buf[4]
        sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7fffffff
        payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
        if ftype == HEADERS:
            payload = dict(self.dec.decode(payload))
        return ftype, flags, sid, payload

    def frames(self, sid, timeout=IO_TIMEOUT):
        """Frames of stream sid until it ends (END_STREAM or RST_STREAM)."""
        out = []
        while True:
            f = self.frame(timeout)
            if f is None:
                raise ConnectionError("closed before stream %d ended" % sid)
            if f[2] != sid:
                continue
            out.append(f)
            if f[0] == RST_STREAM or (f[0] in (DATA, HEADERS) and f[1] & END_STREAM):
                return out


def without_date(fields):
    return {k: v for k, v in fields.items() if k != "date"}


class HeadAndNoBody(unittest.TestCase):
    """HEAD, 204 and 304: the HEADERS frame ends the stream, with the
    fields a GET gets, whatever the body's kind. Nothing of the body is
    pulled: a filtered answer's stream has no producer behind it at all."""

    @classmethod
    def setUpClass(cls):
        routes = ("[route /echo]\nplugin = echo\n\n[route /nocontent]\nplugin = echo\nstatus = 204\n\n" +
                  route("/s", "static", root="www") +
                  route("/f", "static", root="www", cache_ttl="0") +
                  route("/m", "misbehave") +
                  route("/mc", "misbehave, caps") +
                  route("/sc", "static, caps", root="www") +
                  route("/sse", "sse", events="3", interval="20ms", name="h") +
                  route("/ssec", "sse, caps", events="3", interval="20ms", name="h") +
                  route("/co", "co_core") +
                  route("/coc", "co_core, caps"))
        cls.srv = Server(h2c_ini(routes), files=FILES)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def raw(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        return r

    def get_head(self, path):
        """The GET's head, and the HEAD's frames, on one connection."""
        r = self.raw()
        got = r.frames(r.request(path))
        self.assertEqual(got[0][0], HEADERS, got)
        frames = r.frames(r.request(path, method="HEAD"))
        return got[0][3], frames

    def check_head(self, path, extra=None):
        get, frames = self.get_head(path)
        self.assertEqual(len(frames), 1, frames)  # no DATA
        ftype, flags, _, fields = frames[0]
        self.assertEqual((ftype, flags & END_STREAM), (HEADERS, END_STREAM))
        self.assertEqual(without_date(fields), without_date(get))
        if extra:
            for k, v in extra.items():
                self.assertEqual(fields.get(k), v, fields)
        return fields

    def test_memory(self):
        self.check_head("/m/big", {":status": "200", "content-length": str(1024 * 1024)})
        # echo's text names the method: one letter more than the GET's
        r = self.raw()
        got = r.frames(r.request("/echo"))
        body = b"".join(f[3] for f in got if f[0] == DATA)
        self.assertIn(b"GET", body)
        frames = r.frames(r.request("/echo", method="HEAD"))
        self.assertEqual(len(frames), 1, frames)
        self.assertEqual(frames[0][3]["content-length"], str(len(body) + 1))

    def test_referenced(self):
        # small enough for static's cache: lent from memory (body_ref)
        self.check_head("/s/small.txt", {":status": "200", "content-length": "11"})

    def test_file(self):
        self.check_head("/s/big.bin", {":status": "200", "content-length": str(len(BIG))})
        self.check_head("/f/small.txt", {":status": "200", "content-length": "11"})
        self.check_head("/m/file", {":status": "200", "content-length": "99990"})

    def test_stream(self):
        fields = self.check_head("/m/stream", {":status": "200"})
        self.assertNotIn("content-length", fields)
        self.check_head("/sse", {":status": "200"})

    def test_filtered(self):
        for path in ("/mc/big", "/mc/stream", "/mc/file", "/sc/small.txt", "/sc/big.bin", "/ssec"):
            fields = self.check_head(path, {":status": "200", "x-caps": "1"})
            self.assertNotIn("content-length", fields)
        # and the server is still there, serving the same connection kinds
        c = H2Client(self.srv.port)
        self.addCleanup(c.close)
        st = c.get("/mc/stream")
        self.assertEqual(bytes(st.data), b"".join(b"PIECE %d\n" % i for i in range(5)))

    def test_204_and_304(self):
        r = self.raw()
        frames = r.frames(r.request("/nocontent"))
        self.assertEqual(len(frames), 1, frames)
        self.assertEqual(frames[0][3][":status"], "204")
        self.assertNotIn("content-length", frames[0][3])
        etag = r.frames(r.request("/s/small.txt"))[0][3]["etag"]
        for path in ("/s/small.txt", "/sc/small.txt", "/f/small.txt"):
            frames = r.frames(r.request(path, extra=[("if-none-match", etag)]))
            self.assertEqual(len(frames), 1, frames)
            self.assertEqual(frames[0][3][":status"], "304")

    def test_coroutine_stream_runs_to_its_end(self):
        # co_respond(): the coroutine waits for its bytes to be taken, so
        # they are, and dropped; its end ends the stream and the request
        for path, n in (("/co/stream?len=300000&known=1", 300000), ("/co/stream?len=70000&known=0", 70000),
                        ("/coc/stream?len=70000&known=1", 70000)):
            start = log_count(self.srv)
            r = self.raw()
            sid = r.request(path, method="HEAD")
            frames = r.frames(sid)
            self.assertEqual(frames[0][0], HEADERS)
            self.assertEqual(frames[0][3][":status"], "200")
            self.assertEqual(b"".join(f[3] for f in frames if f[0] == DATA), b"")
            self.assertTrue(frames[-1][1] & END_STREAM, frames)
            m, _ = wait_log_from(self.srv, r"co_core -: stream sent %d returned 0" % n, start)
            self.assertIsNotNone(m, self.srv.log())
            m, _ = wait_log_from(self.srv, r'"HEAD %s HTTP/2.0" 200 - ' % path.replace("?", r"\?"), start)
            self.assertIsNotNone(m, self.srv.log())


class HostAndAuthority(unittest.TestCase):
    """RFC 9113 section 8.3.1: a Host field must agree with :authority; a body of unknown length reaches a proxied
upstream; a stream that waits for the connection's window withheld
by paused bodies is not too slow."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(h2c_ini("[route /echo]\nplugin = echo\n"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def answer(self, r, authority, hosts):
        sid = r.request("/echo", authority=authority, extra=[("host", h) for h in hosts])
        frames = r.frames(sid)
        if frames[0][0] == RST_STREAM:
            return "reset %d" % struct.unpack(">I", frames[0][3])[0], b""
        return int(frames[0][3][":status"]), b"".join(f[3] for f in frames if f[0] == DATA)

    def test_host_contradicting_authority_is_400(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        self.assertEqual(self.answer(r, "localhost", ["evil.example"])[0], 400)
        self.assertEqual(self.answer(r, "localhost", ["localhost:8080"])[0], 400)
        # two Host fields, agreeing or not: nghttp2 resets the stream
        # (PROTOCOL_ERROR) before it is a request
        self.assertEqual(self.answer(r, "localhost", ["localhost", "evil.example"])[0], "reset 1")
        self.assertEqual(self.answer(r, "localhost", ["localhost", "localhost"])[0], "reset 1")
        # a stream's answer: the connection serves on
        status, body = self.answer(r, "localhost", [])
        self.assertEqual(status, 200)
        self.assertIn(b"host: localhost\n", body)

    def test_host_agreeing_with_authority(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        for host in ("localhost", "LocalHost"):
            status, body = self.answer(r, "localhost", [host])
            self.assertEqual(status, 200)
            self.assertEqual(body.lower().count(b"host: "), 1, body)
            self.assertIn(b"host: localhost\n", body)

    def test_host_alone(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        status, body = self.answer(r, None, ["example.org"])
        self.assertEqual(status, 200)
        self.assertIn(b"host: example.org\n", body)
        # neither: a malformed request, reset by nghttp2 (PROTOCOL_ERROR)
        self.assertEqual(self.answer(r, None, [])[0], "reset 1")
        self.assertEqual(self.answer(r, "localhost", [])[0], 200)


class OpenHeaderBlock(unittest.TestCase):
    """A header block left open (no CONTINUATION with END_HEADERS, or the
    rest of its frame never sent) holds the whole connection: after
    header_timeout it gets a GOAWAY and is closed. Each timer has its own
    value, so the time and the log line tell which one fired."""

    HEADER_MS = 1200

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(h2c_ini("[route /echo]\nplugin = echo\n",
                                 server_extra="header_timeout = 1200ms\nbody_timeout = 2900ms\n"
                                              "keepalive_timeout = 3700ms\nsend_timeout = 4300ms\n"
                                              "handler_timeout = 4700ms\nbody_min_rate = 0"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def connection(self):
        """A connection that has had one complete request: its idle timer
        is keepalive_timeout from then, header_timeout never."""
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        frames = r.frames(r.request("/echo"))
        self.assertEqual(frames[0][3][":status"], "200")
        return r

    def goaway_then_close(self, r, t0, timeout=10):
        """Reads to the close: (the GOAWAY's error code, seconds from t0
        to it)."""
        goaway = None
        while True:
            f = r.frame(timeout)
            if f is None:
                self.assertIsNotNone(goaway, "closed without a GOAWAY")
                return goaway
            if f[0] == GOAWAY:
                goaway = (struct.unpack(">I", f[3][4:8])[0], time.time() - t0)

    def check_header_timeout(self, r, t0, start):
        code, after = self.goaway_then_close(r, t0)
        self.assertEqual(code, NO_ERROR)
        self.assertGreaterEqual(after, self.HEADER_MS / 1000 - 0.05)
        self.assertLess(after, 2.9)  # before body_timeout and keepalive_timeout
        m, _ = wait_log_from(self.srv, r"header_timeout: HTTP/2 header block incomplete after 1200 ms; "
                                       r"closing the connection", start)
        self.assertIsNotNone(m, self.srv.log())

    def test_continuation_never_comes(self):
        r = self.connection()
        start = log_count(self.srv)
        t0 = time.time()
        r.sock.sendall(frame(HEADERS, END_STREAM, 3, r.block("/echo?held")))
        self.check_header_timeout(r, t0, start)

    def test_trailers_never_end(self):
        r = self.connection()
        sid = r.request("/echo", method="POST", end=False)
        r.sock.sendall(frame(DATA, 0, sid, b"body"))
        start = log_count(self.srv)
        t0 = time.time()
        r.sock.sendall(frame(HEADERS, END_STREAM, sid, r.enc.encode([("x-trailer", "1")])))
        self.check_header_timeout(r, t0, start)

    def test_headers_frame_never_completes(self):
        r = self.connection()
        block = r.block("/echo?cut")
        start = log_count(self.srv)
        t0 = time.time()
        whole = frame(HEADERS, END_STREAM | END_HEADERS, 3, block)
        r.sock.sendall(whole[:9 + len(block) // 2])
        self.check_header_timeout(r, t0, start)

    def test_late_continuation_is_fine(self):
        # a block completed in time serves, and leaves no timer behind:
        # the connection then ends on keepalive_timeout
        r = self.connection()
        block = r.block("/echo?late", extra=[("x-pad", "p" * 100)])
        r.sock.sendall(frame(HEADERS, END_STREAM, 3, block[:20]))
        time.sleep(0.4)  # the client's pause, shorter than header_timeout
        r.sock.sendall(frame(CONTINUATION, END_HEADERS, 3, block[20:]))
        frames = r.frames(3)
        self.assertEqual(frames[0][3][":status"], "200")
        self.assertIn(b"x-pad: " + b"p" * 100, b"".join(f[3] for f in frames if f[0] == DATA))
        code, after = self.goaway_then_close(r, time.time())
        self.assertEqual(code, NO_ERROR)
        self.assertGreater(after, 3.0)  # keepalive_timeout's 3700 ms


class SlowBody(unittest.TestCase):
    """body_min_rate per stream: a body trickling below it gets its 408
    once body_rate_grace has passed, while the connection's other streams
    go on; bytes still arriving keep body_timeout from firing."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(h2c_ini("[route /echo]\nplugin = echo\n\n" + route("/sink", "sink"),
                                 server_extra="header_timeout = 5300ms\nbody_timeout = 2900ms\n"
                                              "keepalive_timeout = 5700ms\nsend_timeout = 4300ms\n"
                                              "handler_timeout = 4700ms\nbody_min_rate = 1000\n"
                                              "body_rate_grace = 1s"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def trickle(self, path):
        """A stream whose body comes 10 bytes every 100 ms (100 bytes/s):
        returns the connection, the stream and its frames, the seconds
        from the first byte to its end, and what a stream opened meanwhile
        got."""
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        sid = r.request(path, method="POST", end=False)
        t0 = time.time()
        other, frames, got = None, [], {}
        deadline = t0 + 10
        while time.time() < deadline:
            r.sock.sendall(frame(DATA, 0, sid, b"0123456789"))
            if other is None and time.time() - t0 > 0.5:
                other = r.request("/echo?other")
            pause_end = time.time() + 0.1
            while time.time() < pause_end:
                try:
                    f = r.frame(timeout=pause_end - time.time())
                except TimeoutError:
                    break
                self.assertIsNotNone(f, "the connection closed")
                if f[2] == sid:
                    frames.append(f)
                elif f[2] == other:
                    got.setdefault("frames", []).append(f)
            if frames and frames[-1][1] & END_STREAM:
                return r, sid, frames, time.time() - t0, got
        self.fail("no answer while the body trickled")

    def check_slow(self, path):
        start = log_count(self.srv)
        r, sid, frames, after, got = self.trickle(path)
        self.assertEqual(frames[0][3][":status"], "408")
        # body_rate_grace, never body_timeout (bytes keep coming)
        self.assertGreaterEqual(after, 0.95)
        self.assertLess(after, 2.9)
        m, _ = wait_log_from(self.srv, r"request body below body_min_rate on HTTP/2 stream %d \((\d+) bytes in "
                                       r"(\d+) ms\); answering 408" % sid, start)
        self.assertIsNotNone(m, self.srv.log())
        self.assertLess(int(m.group(1)) * 1000, 1000 * int(m.group(2)))
        # the stream opened meanwhile was answered; the connection serves on
        self.assertEqual(got["frames"][0][3][":status"], "200")
        again = r.frames(r.request("/echo?after"))
        self.assertEqual(again[0][3][":status"], "200")
        self.assertNotIn("body_timeout", "\n".join(self.srv.log().splitlines()[start:]))
        return start

    def test_buffered_body_below_the_rate(self):
        self.check_slow("/echo")

    def test_streamed_body_below_the_rate(self):
        # the plugin holds the request: it is cancelled, the stream answered
        start = self.check_slow("/sink")
        m, _ = wait_log_from(self.srv, r"sink: on_cancel after \d+ bytes", start)
        self.assertIsNotNone(m, self.srv.log())

    def test_body_at_the_rate_passes(self):
        c = H2Client(self.srv.port)
        self.addCleanup(c.close)
        body = os.urandom(200000)
        st = c.get("/echo", method="POST", body=body)
        self.assertEqual(st.status, 200)
        self.assertTrue(st.data.endswith(body))




class WithheldWindow(unittest.TestCase):
    """Paused bodies past the connection's budget close its window: the
    client cannot send on its other streams, which is the server's doing,
    so their body_min_rate and body_timeout wait until the window opens."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(h2c_ini("[route /echo]\nplugin = echo\n\n" +
                                 route("/sink", "sink", pause_every="1", pause_for="4s"),
                                 server_extra="http2_window = 16k\nbody_min_rate = 1000\nbody_rate_grace = 1s\n"
                                              "body_timeout = 3100ms\nhandler_timeout = 2300ms\n"
                                              "header_timeout = 5300ms\nkeepalive_timeout = 5700ms\n"
                                              "send_timeout = 4300ms"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_a_stream_waiting_for_the_connection_window_is_not_too_slow(self):
        start = log_count(self.srv)
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        conn = 65535
        streams = {}   # stream id -> its window, as the client sees them
        answers = {}   # stream id -> :status

        def take(timeout):
            nonlocal conn
            try:
                f = r.frame(timeout)
            except TimeoutError:
                return False
            self.assertIsNotNone(f, "the connection closed")
            ftype, _, sid, payload = f
            if ftype == WINDOW_UPDATE:
                n = struct.unpack(">I", payload)[0]
                if sid == 0:
                    conn += n
                elif sid in streams:
                    streams[sid] += n
            elif ftype == HEADERS and sid in streams and ":status" in payload:
                answers[sid] = payload[":status"]
                if sid in sinks:  # the 504: the client lets the stream go
                    r.sock.sendall(frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL)))
                    reset.add(sid)  # no DATA after its reset (a connection error)
            return True

        # paused uploads: each sink takes its first piece and pauses, the
        # rest is held. Held bytes are given back to the connection's window
        # until 4 windows (64k) are held; the window (64k) shuts once 128k
        # are held. A sink's first piece can be most of a 16k window (the
        # whole first DATA frame, when one read carries it), and below 8k it
        # opens no stream window, so a sink may hold as little as 8k: 20
        # sinks hold at least 160k whatever the reads
        reset = set()
        sinks = [r.request("/sink", method="POST", end=False) for _ in range(20)]
        streams.update((sid, 16384) for sid in sinks)
        deadline = time.time() + IO_TIMEOUT
        while True:
            self.assertLess(time.time(), deadline, "the window never closed")
            for sid in sinks:
                n = min(streams[sid], conn, 16000) if sid not in reset else 0
                if n > 0:
                    r.sock.sendall(frame(DATA, 0, sid, b"s" * n))
                    streams[sid] -= n
                    conn -= n
            if not take(0.3) and conn == 0:
                break
        # a stream that cannot send a byte until the paused ones let go
        # (handler_timeout: 504, then reset by the client)
        echo = r.request("/echo", method="POST", end=False)
        streams[echo] = 16384
        sent = None
        while echo not in answers:
            self.assertLess(time.time(), deadline, "no answer on the waiting stream")
            if sent is None and conn >= 5 and streams[echo] >= 5:
                r.sock.sendall(frame(DATA, END_STREAM, echo, b"hello"))
                sent = [answers.get(sid) for sid in sinks]
            take(0.05)
        self.assertEqual(answers[echo], "200")
        # its body could go only once a paused stream had its 504
        self.assertIn("504", sent)
        log = "\n".join(self.srv.log().splitlines()[start:])
        self.assertNotIn("HTTP/2 stream %d " % echo, log)


class BodyWithoutLength(unittest.TestCase):
    """A request body whose length no content-length gives (DATA frames up
    to END_STREAM) stands for HTTP/1.1's Transfer-Encoding: chunked: a
    plugin that reads the framing from the head, like the proxy, passes it
    on, and one given a content-length gets no Transfer-Encoding."""

    @classmethod
    def setUpClass(cls):
        cls.origin = Server(server_ini("[route /p]\nplugin = echo\n"))
        cls.srv = Server(h2c_ini("[route /p]\nplugin = proxy\nupstream = 127.0.0.1:%d\n" % cls.origin.port))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.origin.stop()

    def post(self, r, chunks, extra=()):
        sid = r.request("/p", method="POST", end=False, extra=extra)
        for i, c in enumerate(chunks):
            r.sock.sendall(frame(DATA, END_STREAM if i == len(chunks) - 1 else 0, sid, c))
        frames = r.frames(sid)
        self.assertEqual(frames[0][0], HEADERS, frames)
        return frames[0][3][":status"], b"".join(f[3] for f in frames if f[0] == DATA)

    def test_proxied_body_of_unknown_length(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        status, body = self.post(r, [b"first ", b"second"])
        self.assertEqual(status, "200")
        self.assertTrue(body.endswith(b"\n\nfirst second"), body)

    def test_proxied_body_with_content_length(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        status, body = self.post(r, [b"12345"], extra=[("content-length", "5")])
        self.assertEqual(status, "200")
        self.assertNotIn(b"Transfer-Encoding", body)
        self.assertIn(b"\nContent-Length: 5\n", body)
        self.assertTrue(body.endswith(b"\n\n12345"), body)


if __name__ == "__main__":
    main()
