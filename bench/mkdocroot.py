#!/usr/bin/env python3
"""Write the benchmark document root: the same bytes on every machine.

    mkdocroot.py DIR

index.html  1024 bytes of HTML (scenarios a, c, d and the idle test)
100k.bin    102400 bytes (scenario b)
1m.bin      1048576 bytes (spare, for ad-hoc runs)

The binary files are SHAKE-256 output of a fixed label (fixed by the FIPS 202
standard, so identical everywhere): no server can gain from compressible or
repeated content. Files are rewritten only when their size or
digest differs, so a rerun keeps mtimes (and the servers' caches) stable.
"""
import hashlib
import os
import sys

PAGE_HEAD = (b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             b"<title>plughttpd bench</title></head>\n<body>\n<h1>bench page</h1>\n")
PAGE_TAIL = b"</body></html>\n"


def page(size):
    """HTML page of exactly SIZE bytes: numbered paragraphs, padded."""
    out = bytearray(PAGE_HEAD)
    n = 0
    while True:
        para = b"<p>paragraph %03d of a fixed-size page used to measure servers.</p>\n" % n
        if len(out) + len(para) + len(PAGE_TAIL) > size:
            break
        out += para
        n += 1
    pad = size - len(out) - len(PAGE_TAIL)
    if pad > 0:
        out += b"<!--" + b"x" * max(pad - 8, 0) + b"-->\n" if pad >= 8 else b" " * pad
    out += PAGE_TAIL
    assert len(out) == size, (len(out), size)
    return bytes(out)


def noise(size, label):
    return hashlib.shake_256(label).digest(size)


FILES = (
    ("index.html", lambda: page(1024)),
    ("100k.bin", lambda: noise(100 * 1024, b"plughttpd-bench-100k")),
    ("1m.bin", lambda: noise(1024 * 1024, b"plughttpd-bench-1m")),
)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkdocroot.py DIR")
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)  # nginx/lighttpd/h2o workers run as nobody
    for name, make in FILES:
        data = make()
        path = os.path.join(root, name)
        try:
            with open(path, "rb") as f:
                same = f.read() == data
        except OSError:
            same = False
        if not same:
            with open(path, "wb") as f:
                f.write(data)
        os.chmod(path, 0o644)
        print(f"{name} {len(data)} sha256:{hashlib.sha256(data).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
