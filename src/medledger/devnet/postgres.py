"""A throwaway PostgreSQL server on loopback, from the distribution's binaries (Debian: `postgresql`).

For tests and local indexing: `initdb` into a fresh temporary directory, then the `postgres`
server itself as a child process (so it is stopped by its own process id), trust
authentication, listening on 127.0.0.1 only, its Unix socket in the same temporary directory.
PostgreSQL refuses to run as root: when run by root, both steps run as the `postgres` system
user (created by the Debian package) and the directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TypedDict

from medledger.devnet.ports import free_loopback_port
from medledger.errors import MedLedgerError

SUPERUSER = "postgres"
DEBIAN_PACKAGE = "postgresql"


class PostgresError(MedLedgerError, RuntimeError):
    """PostgreSQL binaries are missing, or the server could not be initialised or started."""


class _RunAs(TypedDict, total=False):
    """subprocess keyword arguments that run the server as an unprivileged system user."""

    user: int
    group: int
    extra_groups: list[int]


def find_postgres_bin(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding `initdb` and `postgres`: `explicit`, $PG_BIN, the newest
    /usr/lib/postgresql/<version>/bin (Debian), or the PATH."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))

    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"postgresql/([\d.]+)/bin", path)
        return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise PostgresError(
        "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, "
        f"$PG_BIN or PATH: install them with `apt-get install -y {DEBIAN_PACKAGE}`"
    )


class PostgresServer:
    """One PostgreSQL server in a temporary directory; `url` is a postgresql:// URL for psycopg.

    >>> with PostgresServer() as server:
    ...     url = server.create_database("index")
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        bin_dir: str | os.PathLike[str] | None = None,
        run_as: str | None = None,
        fast_unsafe: bool = True,
    ):
        self.bin_dir = find_postgres_bin(bin_dir)
        self.port = port or free_loopback_port()
        # PostgreSQL will not run as root: fall back to the distribution's `postgres` account.
        self.run_as = run_as or ("postgres" if os.geteuid() == 0 else None)
        self.fast_unsafe = fast_unsafe  # fsync off: for tests and throwaway indexes only
        self.base_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "postgres.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def url_for(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def _user_kwargs(self) -> _RunAs:
        if self.run_as is None:
            return {}
        try:
            entry = pwd.getpwnam(self.run_as)
        except KeyError:
            raise PostgresError(
                f"running as root, but there is no {self.run_as!r} system user to run PostgreSQL "
                f"as (the Debian package `{DEBIAN_PACKAGE}` creates it)"
            ) from None
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 30.0) -> PostgresServer:
        user = self._user_kwargs()
        self.base_dir = Path(tempfile.mkdtemp(prefix="medledger-pg-"))
        self.socket_dir.mkdir()
        self.log_file.touch()
        if "user" in user and "group" in user:
            for path in (self.base_dir, self.socket_dir, self.log_file):
                os.chown(path, user["user"], user["group"])
        init = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--locale=C",
            ],
            capture_output=True,
            cwd=self.base_dir,
            **user,
        )
        if init.returncode != 0:
            message = (init.stderr or init.stdout).decode(errors="replace").strip()
            self._remove_dir()
            raise PostgresError(f"initdb failed (exit {init.returncode}): {message}")
        options = ["-p", str(self.port), "-k", str(self.socket_dir), "-c", "listen_addresses=127.0.0.1"]
        if self.fast_unsafe:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with open(self.log_file, "ab") as log:  # the server keeps its own descriptor
            self.process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.base_dir,
                start_new_session=True,
                **user,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                self._remove_dir()
                raise PostgresError(f"postgres exited with code {self.process.returncode}: {tail.strip()}")
            if self.is_ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise PostgresError(f"PostgreSQL did not accept connections on 127.0.0.1:{self.port} within {timeout:.0f} s")

    def is_ready(self) -> bool:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover
            raise PostgresError("psycopg 3 is needed to talk to PostgreSQL") from exc
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise PostgresError(f"database name {name!r} must be lowercase letters, digits and underscores")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT) of the server by its process id, SIGKILL if it lingers; then
        remove the temporary directory."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGINT)
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._remove_dir()

    def _remove_dir(self) -> None:
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
