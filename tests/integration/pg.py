"""A throwaway PostgreSQL cluster for the data plugin's tests.

PgCluster() runs initdb in a new temp folder and starts postgres on a free
port of 127.0.0.1 (and a unix socket inside that folder only), with trust
authentication: nothing outside the machine can reach it, and it lives only
as long as the test. destroy() stops it and deletes the folder.

initdb refuses to run as root; as root (CI) every PostgreSQL program runs
as the `postgres` user of Debian's postgresql package, through runuser, with
the folder chowned to it.

The binaries come from $PH_PG_BINDIR or the newest /usr/lib/postgresql/*/bin.
When they are missing, PgCluster() raises: the PostgreSQL tests must fail,
not skip, because CI installs PostgreSQL.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

TIMEOUT = 60


def find_bindir():
    env = os.environ.get("PH_PG_BINDIR")
    candidates = [env] if env else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    for d in reversed(candidates):
        if d and os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("PostgreSQL binaries not found (initdb in /usr/lib/postgresql/*/bin "
                       "or $PH_PG_BINDIR): install Debian's postgresql package")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        self.bindir = find_bindir()
        self.dir = tempfile.mkdtemp(prefix="phpg-")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        try:
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--locale=C", "--no-sync")
            self.start()
        except Exception:
            self.destroy()
            raise

    def _run(self, prog, *args, check=True, input=None):
        cmd = self.as_user + [os.path.join(self.bindir, prog)] + list(args)
        p = subprocess.run(cmd, cwd=self.dir, capture_output=True, timeout=TIMEOUT,
                           input=input)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s%s%s" % (
                " ".join(cmd), p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace"), self.log()))
        return p

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def start(self):
        opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off" % (self.port, self.dir))
        self._run("pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "30",
                  "-o", opts, "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-w", "-t", "30", "-m", mode, "stop", check=False)

    def uri(self, db="postgres"):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, sql, db="postgres"):
        """Runs sql; returns the unaligned, tuples-only output."""
        p = self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                      "-p", str(self.port), "-U", "postgres", "-d", db, "-f", "-",
                      input=sql.encode())
        return p.stdout.decode()

    def create_db(self, name):
        self.psql('CREATE DATABASE "%s"' % name)
        return self.uri(name)

    def destroy(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
