"""A PostgreSQL cluster managed by the project, for tests and the demo.

It uses Debian's server binaries, lives in a folder of its own, listens on
127.0.0.1 only (no Unix socket, so no permission trouble with socket folders)
and picks a free port. Nothing here relies on a server that happens to run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root: when we are root, the cluster belongs to this OS user.
OS_USER_WHEN_ROOT = "postgres"


class EmbeddedPostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """Where initdb/pg_ctl live: $PG_BINDIR, else Debian's newest version, else PATH."""
    if env := os.environ.get("PG_BINDIR"):
        return Path(env)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    if initdb := shutil.which("initdb"):
        return Path(initdb).resolve().parent
    raise EmbeddedPostgresError(
        "PostgreSQL server binaries not found: install Debian's 'postgresql' package "
        "(apt-get install postgresql) or set PG_BINDIR"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def default_datadir() -> Path:
    """`.pg/` in the repository, unless we are root in a folder the postgres user can't reach."""
    preferred = REPO_ROOT / ".pg"
    if os.geteuid() != 0 or _world_traversable(REPO_ROOT):
        return preferred
    digest = hashlib.sha1(str(REPO_ROOT).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"batisync-pg-{digest}"


def _world_traversable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


class EmbeddedPostgres:
    """One cluster in `root` (data in `root/data`, log in `root/postgres.log`)."""

    def __init__(self, root: Path | None = None, *, fast: bool = True) -> None:
        self.root = Path(root) if root else default_datadir()
        self.datadir = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.fast = fast
        self.bindir = find_bindir()
        self._as_root = os.geteuid() == 0

    # -- lifecycle -------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_root and not _world_traversable(self.root.parent):
            raise EmbeddedPostgresError(
                f"{self.root.parent} is not reachable by the '{OS_USER_WHEN_ROOT}' user "
                "that runs PostgreSQL when we are root: choose a folder under /tmp or /var/tmp"
            )
        self._own(self.root)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        )

    @property
    def port(self) -> int | None:
        """The port of the running server, read from postmaster.pid (line 4)."""
        pidfile = self.datadir / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        result = self._run("pg_ctl", "status", "-D", str(self.datadir), check=False)
        return result.returncode == 0

    def start(self, port: int | None = None) -> EmbeddedPostgres:
        """Start on `port` if it is free, else on any free port. Reuses a running server."""
        self.init()
        if self.is_running():
            return self
        last_error = ""
        for _ in range(3):  # a free port can be taken between our probe and the bind
            chosen = port if port and port_is_free(port) else free_port()
            result = self._pg_ctl_start(chosen)
            if result.returncode == 0:
                return self
            last_error = result.stdout + result.stderr + self._log_tail()
        raise EmbeddedPostgresError(f"could not start PostgreSQL in {self.datadir}:\n{last_error}")

    def _pg_ctl_start(self, port: int) -> subprocess.CompletedProcess[str]:
        """`pg_ctl start` on `port`, waiting for the server to accept connections."""
        return self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-o",
            self._server_options(port),
            check=False,
        )

    def restart(self) -> None:
        """Stop, then start again on the same port, as a server restart does: clients
        keep their settings. PostgreSQL binds with SO_REUSEADDR, so the port being in
        TIME_WAIT after the stop does not matter (`start` would pick another one)."""
        port = self.port
        self.stop()
        result = self._pg_ctl_start(port or free_port())
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"could not restart PostgreSQL:\n{self._log_tail()}")

    def stop(self, mode: Literal["fast", "immediate"] = "fast") -> None:
        """`pg_ctl stop`: `fast` (a clean shutdown, with its checkpoint) or `immediate`."""
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.datadir))

    def destroy(self) -> None:
        # no shutdown checkpoint: the data goes (at the end of `make test`, 30 s of writes)
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    @classmethod
    @contextlib.contextmanager
    def temporary(cls) -> Iterator[EmbeddedPostgres]:
        """A throwaway cluster in a fresh temp folder, removed afterwards."""
        root = Path(tempfile.mkdtemp(prefix="batisync-pg-"))
        cluster = cls(root)
        try:
            yield cluster.start()
        finally:
            cluster.destroy()

    # -- connections -------------------------------------------------------------
    def env(self, dbname: str = "postgres") -> dict[str, str]:
        """libpq settings for a database of this cluster."""
        if self.port is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL is not running")
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": SUPERUSER,
            "PGPASSWORD": "",
            "PGDATABASE": dbname,
        }

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(
        self, name: str, *, replace: bool = False, template: str | None = None
    ) -> str:
        """Create database `name` (dropping it first if `replace`), as a copy of `template`
        if given; returns its URL."""
        create = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" template {}").format(sql.Identifier(template))
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (name,)
            ).fetchone()
            if exists and replace:
                conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
            if not exists or replace:
                conn.execute(create)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )

    # -- helpers -----------------------------------------------------------------
    def _server_options(self, port: int) -> str:
        options = [
            f"-p {port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=100",
        ]
        if self.fast:  # throwaway data: durability buys nothing here
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def _own(self, path: Path) -> None:
        if self._as_root:
            shutil.chown(path, user=OS_USER_WHEN_ROOT, group=OS_USER_WHEN_ROOT)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self._as_root:
            command = ["runuser", "-u", OS_USER_WHEN_ROOT, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, cwd="/", env=_clean_env(), check=False
        )
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip()}\n{self._log_tail()}"
            )
        return result


def _clean_env() -> dict[str, str]:
    # PG* settings meant for clients must not steer initdb/pg_ctl.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LANG", "C.UTF-8")
    return env


def main(argv: list[str] | None = None) -> int:
    """`python -m devstack.pg start|stop|status|env|destroy` on the project's cluster."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m devstack.pg", description=main.__doc__)
    parser.add_argument("action", choices=["start", "stop", "status", "env", "destroy"])
    parser.add_argument("--port", type=int, default=None, help="preferred port (start)")
    parser.add_argument("--database", default="batisync", help="database to create (start)")
    args = parser.parse_args(argv)
    cluster = EmbeddedPostgres(fast=False)
    if args.action == "start":
        cluster.start(args.port)
        cluster.create_database(args.database)
        print(f"# PostgreSQL running in {cluster.datadir}")
        _print_env(cluster, args.database)
    elif args.action == "stop":
        cluster.stop()
        print("stopped")
    elif args.action == "destroy":
        cluster.destroy()
        print(f"removed {cluster.root}")
    elif args.action == "env":
        if not cluster.is_running():
            print("not running: make pg-start")
            return 1
        _print_env(cluster, args.database)
    else:
        running = cluster.is_running()
        state = f"running on port {cluster.port}" if running else "stopped"
        print(f"{state} ({cluster.datadir})")
        return 0 if running else 1
    return 0


def _print_env(cluster: EmbeddedPostgres, database: str) -> None:
    for key, value in cluster.env(database).items():
        print(f"export {key}={value}")
    print(f"# psql -h 127.0.0.1 -p {cluster.port} -U {SUPERUSER} {database}")


if __name__ == "__main__":
    raise SystemExit(main())
