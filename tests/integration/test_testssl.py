#!/usr/bin/env python3
"""The default TLS configuration against Debian's testssl.sh: no finding it
rates "NOT ok" or "VULNERABLE". The certificate is a test CA's (given to
testssl.sh with --add-ca) carrying OCSP and CRL addresses, as a public one
does, so that what is judged is the server's configuration."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import Server, main, server_ini
from tlsutil import make_ca_and_leaf

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")


class TestSSL(unittest.TestCase):
    def test_default_configuration_has_no_bad_findings(self):
        self.assertIsNotNone(TESTSSL, "testssl.sh is not installed (Debian package testssl.sh, see .ci/deps)")
        folder = tempfile.mkdtemp(prefix="phtestssl-")
        try:
            ca, leaf, key = make_ca_and_leaf(folder)
            text = server_ini("[route /echo]\nplugin = echo\n", listen=("127.0.0.1:0 tls",))
            text += "[tls]\ncertificate = %s\nkey = %s\n" % (leaf, key)
            with Server(text) as srv:
                out = subprocess.run([TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--add-ca", ca,
                                      "--ip", "127.0.0.1", "localhost:%d" % srv.port],
                                     capture_output=True, text=True, timeout=900).stdout
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(out)  # the whole report goes into the test's log
        bad = [l for l in out.splitlines() if re.search(r"NOT ok|VULNERABLE|\bnot ok\b", l)]
        self.assertEqual(bad, [])
        for line in (r"TLS 1      not offered", r"TLS 1\.1    not offered", r"TLS 1\.2    offered \(OK\)",
                     r"TLS 1\.3    offered \(OK\)", r"Chain of trust\s+Ok", r"Has server cipher order\?\s+yes \(OK\)",
                     r"Heartbleed \(CVE-2014-0160\)\s+not vulnerable \(OK\)",
                     r"Obsolete CBC ciphers \(AES, ARIA etc\.\)\s+not offered"):
            self.assertRegex(out, line)


if __name__ == "__main__":
    main()
