"""Certificates and TLS clients for the HTTPS tests.

Certificates are made with the openssl command (Debian's openssl package),
ECDSA P-256 unless asked otherwise; start and end dates, when given, go
through `openssl ca` (the only way OpenSSL 3.0 sets both), so an expired or
not-yet-valid certificate can be made without touching the clock.
"""

import os
import socket
import ssl
import subprocess

from harness import IO_TIMEOUT, parse_responses, recv_all

_CA_CNF = """[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[p]
commonName = supplied
"""


def make_cert(folder, name, cn="localhost", sans=("localhost",), days=30, start=None, end=None, rsa=False):
    """Writes NAME.pem (certificate) and NAME.key (key) in folder; returns
    their paths. sans: DNS names of subjectAltName (empty: none). start,
    end: "YYYYMMDDHHMMSSZ" dates."""
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + ".key")
    algo = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    ext = ["-addext", "subjectAltName=" + ",".join("DNS:" + s for s in sans)] if sans else []
    if start is None and end is None:
        subprocess.run(["openssl", "req", "-x509", "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
                        "-subj", "/CN=" + cn] + algo + ext, check=True, capture_output=True, timeout=60)
        return cert, key
    work = os.path.join(folder, name + ".ca")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "ca.cnf"), "w") as f:
        f.write(_CA_CNF)
    open(os.path.join(work, "index.txt"), "w").close()
    with open(os.path.join(work, "serial"), "w") as f:
        f.write("01\n")
    csr = os.path.join(work, "req.csr")
    subprocess.run(["openssl", "req", "-new", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn]
                   + algo + ext, check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", key, "-in", csr,
                    "-out", cert, "-startdate", start, "-enddate", end, "-notext"],
                   cwd=work, check=True, capture_output=True, timeout=60)
    return cert, key


def cert_serial(pem_path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", pem_path], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return out.strip().split("=", 1)[1].upper()


def peer_serial(sock):
    """The serial number of the certificate the server presented, in hex."""
    der = sock.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-inform", "DER"], input=der, check=True,
                         capture_output=True, timeout=30).stdout.decode()
    return out.strip().split("=", 1)[1].upper()


def client_context(cafile=None, alpn=("http/1.1",), min_version=None, max_version=None, ciphers=None):
    """A client context trusting cafile (None: no verification)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_connect(port, ctx, server_name="localhost", session=None, timeout=IO_TIMEOUT):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_name, session=session)
    except Exception:
        raw.close()
        raise


def https_get(port, path, ctx, server_name="localhost", headers=None, method="GET", body=None, session=None,
              timeout=IO_TIMEOUT):
    """One request with Connection: close over a new TLS connection.
    Returns (Response, ssl socket's session, whether it was resumed)."""
    s = tls_connect(port, ctx, server_name, session, timeout)
    try:
        h = {"Host": server_name or "localhost", "Connection": "close"}
        h.update(headers or {})
        if body is not None:
            h["Content-Length"] = str(len(body))
        req = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        s.sendall(req.encode("latin-1") + (body or b""))
        data = recv_all(s, timeout)
        resps = parse_responses(data, head=(method == "HEAD"))
        if not resps:
            raise AssertionError("no response over TLS")
        # TLS 1.3 tickets come after the handshake: the session is complete
        # once the response was read
        return resps[0], s.session, s.session_reused
    finally:
        s.close()


def make_ca_and_leaf(folder, host="localhost"):
    """A certificate authority and a leaf for host it signs, the leaf with
    an OCSP responder and a CRL address (never fetched): what a public
    certificate carries. Returns (ca.pem, leaf.pem, leaf.key)."""
    ca, cakey = os.path.join(folder, "ca.pem"), os.path.join(folder, "ca.key")
    leaf, key = os.path.join(folder, "leaf.pem"), os.path.join(folder, "leaf.key")
    csr, ext = os.path.join(folder, "leaf.csr"), os.path.join(folder, "leaf.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    run = dict(check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-keyout", cakey, "-out", ca, "-days", "60", "-subj",
                    "/CN=plughttpd test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"] + ec, **run)
    subprocess.run(["openssl", "req", "-new", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + host] + ec,
                   **run)
    with open(ext, "w") as f:
        f.write("subjectAltName = DNS:%s\n" % host)
        f.write("basicConstraints = critical,CA:FALSE\n")
        f.write("keyUsage = critical,digitalSignature\n")
        f.write("extendedKeyUsage = serverAuth\n")
        f.write("authorityInfoAccess = OCSP;URI:http://127.0.0.1:9/ocsp\n")
        f.write("crlDistributionPoints = URI:http://127.0.0.1:9/ca.crl\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial",
                    "-days", "30", "-sha256", "-extfile", ext, "-out", leaf], **run)
    with open(leaf, "a") as f, open(ca) as c:
        f.write(c.read())  # the chain as served: leaf, then its issuer
    return ca, leaf, key
