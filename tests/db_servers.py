"""Throw-away MariaDB and PostgreSQL servers on 127.0.0.1 for tests and benchmarks.

Each server gets its own data directory under a temporary folder and a free TCP
port, and is stopped (and its folder removed) by :meth:`DBServer.close`. The
binaries come from the Debian packages ``mariadb-server`` and ``postgresql``
(found on ``PATH``, in ``/usr/sbin`` or ``/usr/lib/postgresql/*/bin``).
PostgreSQL refuses to run as root: when we are root it runs as ``nobody``
(through ``runuser``) with a data directory owned by that user.

Every server has a user ``mcv`` with password :data:`PASSWORD` that may create
databases; :meth:`DBServer.create_database` makes a fresh one per test and
:meth:`DBServer.url` gives its SQLAlchemy URL **without** the password.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "mcv"
PASSWORD = "mcv-test-pw"
PASSWORD_ENV = "MCVISION_TEST_DB_PASSWORD"


class ServerUnavailable(RuntimeError):
    """The server's binaries are not installed (or it would not start): the message says which."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _find(names: list[str], extra_globs: list[str]) -> str | None:
    for n in names:
        found = shutil.which(n)
        if found:
            return found
        for d in ("/usr/sbin", "/usr/bin", "/usr/local/bin"):
            if os.access(f"{d}/{n}", os.X_OK):
                return f"{d}/{n}"
    for pattern in extra_globs:
        hits = sorted(glob.glob(pattern), reverse=True)
        if hits:
            return hits[0]
    return None


def _wait_port(port: int, proc: subprocess.Popen | None, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerUnavailable(f"{what} exited at start (rc {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerUnavailable(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


class DBServer:
    """One running server; ``dialect`` is ``mysql`` or ``postgresql``."""

    dialect: str
    driver: str

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"mcv-{self.dialect}-"))
        self.port = free_port()
        self.running = False
        self._n = 0

    def url(self, database: str, *, user: str = USER) -> str:
        return f"{self.dialect}+{self.driver}://{user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its name."""
        self._n += 1
        name = f"{prefix}_{os.getpid()}_{self._n}"
        self._admin_sql(f"CREATE DATABASE {name}")
        return name

    def _admin_sql(self, sql: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


class MariaDBServer(DBServer):
    dialect = "mysql"
    driver = "pymysql"

    def __init__(self) -> None:
        self.mariadbd = _find(["mariadbd", "mysqld"], [])
        self.install = _find(["mariadb-install-db", "mysql_install_db"], [])
        self.client = _find(["mariadb", "mysql"], [])
        if not (self.mariadbd and self.install and self.client):
            raise ServerUnavailable("MariaDB not installed (apt-get install mariadb-server)")
        super().__init__()
        self.datadir = self.tmp / "data"
        self.sock = self.tmp / "mysqld.sock"
        self.proc: subprocess.Popen | None = None
        subprocess.run(
            [
                self.install,
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--user=root",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.start()
        self._admin_sql(
            f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';"
            f" GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%'; FLUSH PRIVILEGES"
        )

    def start(self) -> None:
        log = open(self.tmp / "server.log", "ab")  # noqa: SIM115 (the server owns it)
        self.proc = subprocess.Popen(
            [
                self.mariadbd,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--port={self.port}",
                f"--socket={self.sock}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=2",
                "--skip-name-resolve",
                f"--pid-file={self.tmp / 'mysqld.pid'}",
                "--max-connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _wait_port(self.port, self.proc, 60, "mariadbd")
        self.running = True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        self.running = False

    def _admin_sql(self, sql: str) -> None:
        subprocess.run(
            [self.client, "--no-defaults", "-uroot", f"--socket={self.sock}", "-e", sql],
            check=True,
            capture_output=True,
            timeout=60,
        )


class PostgresServer(DBServer):
    dialect = "postgresql"
    driver = "psycopg"

    def __init__(self) -> None:
        pg_globs = ["/usr/lib/postgresql/*/bin/{}"]
        self.initdb = _find(["initdb"], [g.format("initdb") for g in pg_globs])
        self.pg_ctl = _find(["pg_ctl"], [g.format("pg_ctl") for g in pg_globs])
        self.psql = _find(["psql"], [g.format("psql") for g in pg_globs])
        if not (self.initdb and self.pg_ctl and self.psql):
            raise ServerUnavailable("PostgreSQL not installed (apt-get install postgresql)")
        super().__init__()
        self.datadir = self.tmp / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            self.as_user = ["runuser", "-u", "nobody", "--"]
            os.chmod(self.tmp, 0o777)
            shutil.chown(self.tmp, "nobody")
        pwfile = self.tmp / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_user:
            shutil.chown(pwfile, "nobody")
        self._run(
            [
                self.initdb,
                "-D",
                str(self.datadir),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        with open(self.datadir / "postgresql.conf", "a") as f:
            f.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.tmp}'\nfsync = off\n"
                "synchronous_commit = off\nshared_buffers = 32MB\nmax_connections = 200\n"
            )
        self.start()

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(
            [*self.as_user, *cmd], check=True, capture_output=True, timeout=120, cwd=self.tmp
        )

    def start(self) -> None:
        self._run(
            [
                self.pg_ctl,
                "-D",
                str(self.datadir),
                "-l",
                str(self.tmp / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        _wait_port(self.port, None, 60, "postgres")
        self.running = True

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run([self.pg_ctl, "-D", str(self.datadir), "-m", "fast", "-w", "stop"])
        self.running = False

    def _admin_sql(self, sql: str) -> None:
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run(
            [
                self.psql,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            timeout=60,
            env=env,
        )


SERVERS = {"mysql": MariaDBServer, "postgresql": PostgresServer}
