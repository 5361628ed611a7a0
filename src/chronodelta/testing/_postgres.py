"""A throwaway PostgreSQL cluster for tests and benchmarks.

Each :class:`ThrowawayPostgres` runs its own ``initdb`` + ``pg_ctl`` server in a fresh
temporary directory, listening on a random loopback port, and deletes everything on
stop. Nothing is shared with a system cluster, so tests can create and drop databases
freely and run in parallel (one cluster per worker).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql

HOST = "127.0.0.1"
SUPERUSER = "postgres"
# Fallback when initdb is not on PATH: Debian keeps each major version's server
# binaries here and does not put initdb on PATH itself.
_DEBIAN_INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"
_START_TIMEOUT_SECONDS = 60
_LOG_TAIL_LINES = 30
# Lower-case identifiers need no quoting rules of their own and cannot smuggle SQL;
# 63 bytes is NAMEDATALEN - 1, beyond which PostgreSQL silently truncates the name
# (and the URL we hand back would then name a database that does not exist).
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_DB_NAME_MAX = 63
# Durability settings are off because the data is deleted at stop: a crash loses a
# test's data either way, and skipping fsync makes initdb and every commit much faster.
_SERVER_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
)


class PostgresUnavailable(RuntimeError):
    """This machine cannot run a throwaway cluster (no server binaries, no ``postgres`` user)."""


def _version_key(initdb: str) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin/initdb`` (``9.6`` < ``15``)."""
    version = Path(initdb).parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, else newest Debian."""
    found = shutil.which("initdb")
    if found is None:
        candidates = sorted(glob.glob(_DEBIAN_INITDB_GLOB), key=_version_key)
        if not candidates:
            raise PostgresUnavailable("initdb not found: install Debian's postgresql package")
        found = candidates[-1]
    # Resolve symlinks (e.g. /usr/local/bin/initdb) so pg_ctl comes from the same install.
    bindir = Path(found).resolve().parent
    if not (bindir / "pg_ctl").is_file():
        raise PostgresUnavailable(f"pg_ctl not found next to initdb in {bindir}")
    return bindir


def _server_account() -> pwd.struct_passwd | None:
    """The account server commands run as: ``postgres`` when we are root, else ourselves.

    ``initdb`` and ``postgres`` refuse to run as root (a compromised server must not own
    the machine), so as root every server command goes through ``runuser``.
    """
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root but runuser (util-linux) is not installed")
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root but there is no {SUPERUSER!r} user to run the server as"
        ) from None


def _free_port() -> int:
    """A loopback TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _log_tail(log: Path) -> str:
    """The last lines of the server log, for error messages."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no server log: {exc})"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _check_db_name(name: str) -> None:
    """Reject database names that would need quoting, or be truncated by PostgreSQL."""
    if not _DB_NAME.fullmatch(name) or len(name) > _DB_NAME_MAX:
        raise ValueError(
            f"invalid database name {name!r}: use ^[a-z_][a-z0-9_]*$, at most 63 characters"
        )


class ThrowawayPostgres:
    """A private PostgreSQL server in a temporary directory, deleted on :meth:`stop`.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Only the
    ``postgres`` superuser exists, with ``trust`` authentication, which is safe only
    because the server listens on 127.0.0.1 and a socket directory nobody else can enter.
    """

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._port: int | None = None
        self._pg_ctl: Path | None = None
        self._account: pwd.struct_passwd | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Create the cluster and start the server; returns once it accepts connections."""
        if self._dir is not None:
            raise RuntimeError("ThrowawayPostgres is already started")
        bindir = _find_bindir()
        self._account = _server_account()
        self._pg_ctl = bindir / "pg_ctl"
        self._dir = self._make_dir()
        # Registered before the server exists, so a session that dies mid-start
        # still cleans up; stop() unregisters it.
        atexit.register(self.stop)
        try:
            self._initdb(bindir / "initdb")
            self._launch(self._pg_ctl, _free_port())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (immediately: the data is discarded) and delete the directory.

        Safe to call repeatedly, and when the server never started or already died.
        """
        if self._dir is None:
            return
        atexit.unregister(self.stop)
        if self._pg_ctl is not None and (self._data / "PG_VERSION").exists():
            self._run([str(self._pg_ctl), "-D", str(self._data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self._port = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connection details ----------------------------------------------------------

    @property
    def host(self) -> str:
        """The server only listens here (loopback), never on external interfaces."""
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("ThrowawayPostgres is not started")
        return self._port

    @property
    def directory(self) -> Path:
        """The temporary directory: ``data/`` (the cluster), ``log``, and the Unix socket."""
        if self._dir is None:
            raise RuntimeError("ThrowawayPostgres is not started")
        return self._dir

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` (the storage layer maps it to SQLAlchemy's form)."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    # -- databases -------------------------------------------------------------------

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create ``name`` (optionally as a copy of ``template``) and return its URL.

        Copying a template is the cheap way to give each test a migrated database; it
        fails while anyone else is connected to the template.
        """
        _check_db_name(name)
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            _check_db_name(template)
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self._admin_execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting any sessions still using it."""
        _check_db_name(name)
        self._admin_execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    # -- internals -------------------------------------------------------------------

    @property
    def _data(self) -> Path:
        return self.directory / "data"

    @property
    def _log(self) -> Path:
        return self.directory / "log"

    def _make_dir(self) -> Path:
        """A fresh 0700 directory owned by the account the server runs as."""
        path = Path(tempfile.mkdtemp(prefix="chronodelta-pg-"))
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)
        return path

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a server command as the server account, capturing its output."""
        if self._account is not None:
            command = ["runuser", "-u", self._account.pw_name, "--", *command]
        # cwd: the server account may not be allowed into our working directory.
        return subprocess.run(
            command, cwd=self.directory, capture_output=True, text=True, check=False
        )

    def _initdb(self, initdb: Path) -> None:
        """Create the cluster: superuser ``postgres``, trust auth, UTF8, C locale."""
        result = self._run(
            [
                str(initdb),
                "-D", str(self._data),
                "-U", SUPERUSER,
                "-A", "trust",
                "-E", "UTF8",
                "--no-sync",  # the cluster is deleted at stop; durability is irrelevant
                "--locale=C",
            ]
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stderr.strip()}")

    def _launch(self, pg_ctl: Path, port: int) -> None:
        """Start the server on ``port`` and wait until it accepts connections."""
        options = " ".join(
            [
                f"-c listen_addresses={HOST}",
                f"-p {port}",
                # pg_ctl hands -o to a shell, so quote the path.
                f"-k {shlex.quote(str(self.directory))}",
                *(f"-c {setting}" for setting in _SERVER_SETTINGS),
            ]
        )
        result = self._run(
            [
                str(pg_ctl),
                "-D", str(self._data),
                "-l", str(self._log),
                "-w",
                "-t", str(_START_TIMEOUT_SECONDS),
                "-o", options,
                "start",
            ]
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed ({result.returncode}): {result.stderr.strip()}\n"
                f"server log tail:\n{_log_tail(self._log)}"
            )
        self._port = port

    def _admin_execute(self, statement: sql.Composed) -> None:
        """Run one statement on the ``postgres`` database outside a transaction.

        CREATE/DROP DATABASE cannot run inside a transaction block, hence autocommit.
        """
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)
