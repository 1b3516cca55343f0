"""An HTTP/2 client for the tests, on Debian's python3-h2 (the protocol's
state machine; this module moves its bytes over a socket), and raw frame
writing for the hostile cases the library refuses to produce."""

import os
import socket
import ssl
import struct
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    import hpack
except ImportError:
    # python3-h2 is Debian's: a python3 earlier in PATH may not see it
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

from harness import IO_TIMEOUT

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream_id, payload=b""):
    """One raw frame (RFC 9113 section 4.1)."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream_id) + payload


def client_socket(port, tls_ctx=None, h2=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    if tls_ctx is not None:
        if h2:
            tls_ctx.set_alpn_protocols(["h2"])
        s = tls_ctx.wrap_socket(s, server_hostname="localhost")
    return s


class Stream:
    def __init__(self):
        self.headers = None      # final response head, as a dict
        self.informational = []  # 1xx heads
        self.data = bytearray()
        self.trailers = None
        self.ended = False
        self.reset = None        # the error code of a RST_STREAM

    @property
    def status(self):
        return int(self.headers[":status"]) if self.headers else None

    @property
    def done(self):
        return self.ended or self.reset is not None


class H2Client:
    """One HTTP/2 connection. settings: the client's own SETTINGS."""

    def __init__(self, port, tls_ctx=None, settings=None, sock=None):
        self.sock = sock or client_socket(port, tls_ctx)
        if tls_ctx is not None:
            assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.streams = {}
        self.goaway = None       # (error code, last stream id)
        self.closed = False
        self.remote_settings = {}
        self.pings_acked = 0
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), body=None, end=True, authority="localhost"):
        sid = self.conn.get_next_available_stream_id()
        head = [(":method", method), (":path", path), (":scheme", "https"), (":authority", authority)]
        head += list(headers)
        self.conn.send_headers(sid, head, end_stream=body is None and end)
        self.streams[sid] = Stream()
        if body is not None:
            self.send_body(sid, body, end)
        self.flush()
        return sid

    def send_body(self, sid, body, end=True, deadline=None):
        """Sends body as the windows allow, reading meanwhile."""
        deadline = deadline or time.time() + IO_TIMEOUT * 3
        view = memoryview(body)
        while True:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room > 0 and len(view) > 0:
                n = min(room, len(view))
                self.conn.send_data(sid, bytes(view[:n]), end_stream=end and n == len(view))
                view = view[n:]
                self.flush()
                continue
            if len(view) == 0:
                if end and len(body) == 0:
                    self.conn.end_stream(sid)
                self.flush()
                return
            if self.streams[sid].done or self.closed:
                return
            if time.time() > deadline:
                raise TimeoutError("flow control window never opened")
            self.receive(timeout=max(0.1, deadline - time.time()))

    def receive(self, timeout=IO_TIMEOUT):
        """Reads once and handles the events; False when the server closed."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self._event(ev)
        self.flush()
        return True

    def _event(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = dict(ev.headers)
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            st.informational.append(dict(ev.headers))
        elif isinstance(ev, h2.events.DataReceived):
            st.data += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            st.trailers = dict(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (ev.error_code, ev.last_stream_id)
        elif isinstance(ev, h2.events.PingAckReceived):
            self.pings_acked += 1
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                self.remote_settings[k] = v.new_value

    def wait(self, cond, timeout=IO_TIMEOUT):
        deadline = time.time() + timeout
        while not cond():
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("condition not met")
            if not self.receive(timeout=left):
                if cond():
                    return
                raise ConnectionError("the server closed the connection")

    def response(self, sid, timeout=IO_TIMEOUT):
        self.wait(lambda: self.streams[sid].done, timeout)
        return self.streams[sid]

    def get(self, path, **kw):
        return self.response(self.request(path, **kw))

    def wait_closed(self, timeout=IO_TIMEOUT):
        """Reads until the server closes; returns the GOAWAY seen, if any."""
        deadline = time.time() + timeout
        while not self.closed:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("the connection stayed open")
            try:
                self.receive(timeout=left)
            except h2.exceptions.ProtocolError:
                pass
        return self.goaway

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def read_frames(sock, stop, timeout=IO_TIMEOUT):
    """Raw frames (type, flags, stream id, payload) until stop(frame) is
    true, or (stop None) until the server closes."""
    out, buf = [], b""
    deadline = time.time() + timeout
    while True:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            f = (buf[3], buf[4], struct.unpack(">I", buf[5:9])[0] & 0x7fffffff, buf[9:9 + n])
            buf = buf[9 + n:]
            out.append(f)
            if stop and stop(f):
                return out
        left = deadline - time.time()
        if left <= 0:
            raise TimeoutError("no such frame")
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            if stop:
                raise ConnectionError("closed before the frame came")
            return out
        buf += data


def read_response(sock, sid, timeout=IO_TIMEOUT):
    """Reads raw frames until stream sid ends; (status, body)."""
    dec = hpack.Decoder()
    buf, status, body = b"", None, b""
    deadline = time.time() + timeout
    while True:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            ftype, flags, fsid = buf[3], buf[4], struct.unpack(">I", buf[5:9])[0] & 0x7fffffff
            payload, buf = buf[9:9 + n], buf[9 + n:]
            if ftype == 1 and fsid == sid:
                fields = dict(dec.decode(payload))
                status = int(fields[":status"])
            elif ftype == 0 and fsid == sid:
                body += payload
            if fsid == sid and flags & 1 and ftype in (0, 1):
                return status, body
        sock.settimeout(max(0.01, deadline - time.time()))
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed before stream %d ended" % sid)
        buf += data


def encode_headers(fields):
    return hpack.Encoder().encode(fields)
