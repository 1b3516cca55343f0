"""Runs @supabase/postgrest-js (postgrest_js/scenarios.js) against a server.

The client library is installed with `npm ci` from the committed
postgrest_js/package-lock.json into a folder outside the source tree,
$TMPDIR/plughttpd-pgjs-<hash of the lock file>, once per lock file: later
runs reuse it and need no network. Node and npm are Debian packages that
.ci/deps installs; without them run() raises, so the tests fail instead
of skipping.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from harness import SRCDIR

HERE = os.path.join(SRCDIR, "tests", "integration", "postgrest_js")
TIMEOUT = 120


def _need(prog):
    path = shutil.which(prog)
    if path is None:
        raise RuntimeError("%s not found: install Debian's nodejs and npm packages (.ci/deps)" % prog)
    return path


def modules_dir():
    """The folder whose node_modules holds the pinned postgrest-js."""
    with open(os.path.join(HERE, "package-lock.json"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    final = os.path.join(tempfile.gettempdir(), "plughttpd-pgjs-" + digest)
    if os.path.exists(os.path.join(final, "node_modules", "@supabase", "postgrest-js", "package.json")):
        return final
    npm = _need("npm")
    work = tempfile.mkdtemp(prefix="plughttpd-pgjs-tmp-")
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(HERE, name), work)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=work,
                       check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        try:
            os.rename(work, final)  # another run may have won: then use its copy
        except OSError:
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def run(url, *names, token=None):
    """Runs the named scenarios in order against url (the route's base),
    with token (a JWT) as the client's bearer token when given; returns
    {name: {"status", "data", "error", "count"}}."""
    node = _need("node")
    env = dict(os.environ, PGJS_MODULES=modules_dir())
    env.pop("PGJS_TOKEN", None)
    if token is not None:
        env["PGJS_TOKEN"] = token
    p = subprocess.run([node, os.path.join(HERE, "scenarios.js"), url] + list(names), env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError("scenarios.js failed (%d): %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)
