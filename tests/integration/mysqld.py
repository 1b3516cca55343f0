"""A throwaway MariaDB server for the data plugin's tests.

MariaDb() runs mariadb-install-db in a new temp folder and starts mariadbd
on it with networking off: it listens only on a unix socket inside that
folder, so nothing outside the machine (or outside this test) reaches it.
No system service is involved. destroy() kills it by its PID and deletes
the folder.

As root (CI) mariadbd runs as Debian's `mysql` user (--user), with the
folder chowned to it; root connects over the socket with unix_socket
authentication, and the tests create a password user "ph" for the server
under test, so its URI exercises user, password and socket.

The binaries come from Debian's mariadb-server (or $PH_MARIADB_BINDIR).
When they are missing, MariaDb() raises: the MariaDB tests must fail, not
skip, because CI installs MariaDB.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

TIMEOUT = 60
USER, PASSWORD = "ph", "p@ss:w/rd"  # characters a URI must percent-encode


def find_program(name):
    bindir = os.environ.get("PH_MARIADB_BINDIR")
    for d in ([bindir] if bindir else ["/usr/sbin", "/usr/bin"]):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    raise RuntimeError("%s not found (/usr/sbin, /usr/bin or $PH_MARIADB_BINDIR): "
                       "install Debian's mariadb-server package" % name)


class MariaDb:
    def __init__(self):
        self.mariadbd = find_program("mariadbd")
        self.install_db = find_program("mariadb-install-db")
        self.client = find_program("mariadb")
        self.dir = tempfile.mkdtemp(prefix="phmy-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.logfile = os.path.join(self.dir, "mysqld.log")
        self.proc = None
        self.user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("mysql")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.user = ["--user=mysql"]
        try:
            p = subprocess.run([self.install_db, "--no-defaults", "--datadir=" + self.data,
                                "--auth-root-authentication-method=socket", "--skip-test-db",
                                "--skip-name-resolve"] + self.user,
                               cwd=self.dir, capture_output=True, timeout=TIMEOUT)
            if p.returncode != 0:
                raise RuntimeError("mariadb-install-db failed (%d):\n%s%s" % (
                    p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
            self.start()
            self.sql("CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';"
                     "GRANT ALL ON *.* TO '%s'@'localhost';" % (USER, PASSWORD, USER))
        except Exception:
            self.destroy()
            raise

    def start(self):
        """Starts mariadbd and waits until it answers."""
        # innodb-flush-log-at-trx-commit=2: a commit reaches the OS before
        # the answer, so stop() (SIGKILL) loses no committed row, without
        # an fsync per commit.
        # a temporary folder of its own: internal temporary tables are
        # files named after the server's pid and thread, and /tmp is
        # shared with every other instance and test (one vanished under a
        # concurrent run: "Error on delete of '/tmp/#sql-temptable-...'")
        tmp = os.path.join(self.dir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        st = os.stat(self.dir)
        os.chown(tmp, st.st_uid, st.st_gid)  # the server's user's, as self.dir
        args = [self.mariadbd, "--no-defaults", "--datadir=" + self.data, "--socket=" + self.socket,
                "--tmpdir=" + tmp,
                "--skip-networking", "--log-error=" + self.logfile, "--pid-file=" + os.path.join(self.dir, "pid"),
                "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=2", "--skip-log-bin", "--max-connections=200",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin"] + self.user
        self.proc = subprocess.Popen(args, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited (%d):\n%s" % (self.proc.returncode, self.log()))
            p = subprocess.run([self.client, "--no-defaults", "-S", self.socket, "-u", "root",
                                "-e", "SELECT 1"], capture_output=True, timeout=TIMEOUT)
            if p.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("mariadbd did not answer within %d s:\n%s" % (TIMEOUT, self.log()))

    def stop(self):
        """Kills mariadbd (by its PID) and waits for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(TIMEOUT)
        self.proc = None

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def uri(self, db, scheme="mysql"):
        """A URI for db as user "ph" over the unix socket."""
        q = urllib.parse.quote
        return "%s://%s:%s@localhost/%s?socket=%s" % (scheme, q(USER, safe=""), q(PASSWORD, safe=""),
                                                     db, q(self.socket, safe="/"))

    def sql(self, text, db=None):
        """Runs text as root; returns the tab-separated rows, no header."""
        cmd = [self.client, "--no-defaults", "-S", self.socket, "-u", "root", "-N", "-B"]
        if db:
            cmd += ["-D", db]
        p = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=TIMEOUT)
        if p.returncode != 0:
            raise RuntimeError("mariadb failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")))
        return p.stdout.decode()

    def client_cmd(self, db):
        """argv of an interactive root client on db."""
        return [self.client, "--no-defaults", "-S", self.socket, "-u", "root", "-N", "-B", "-n", "-D", db]

    def create_db(self, name, scheme="mysql"):
        self.sql("CREATE DATABASE `%s`" % name)
        return self.uri(name, scheme)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
