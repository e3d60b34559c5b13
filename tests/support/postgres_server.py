"""A real PostgreSQL for the tests, wherever the suite runs.

In order: ``PRESENCE_TEST_DATABASE_URL`` when set (it must work); the server CI provides
on 127.0.0.1:5432 (trust auth, the current user, database ``test``); else a throwaway
server started here from ``initdb``/``postgres`` found on PATH, under
/usr/lib/postgresql/*/bin (Debian keeps them off PATH), in Homebrew's prefixes, or in
the ``pgserver`` package (test extras) that bundles them. The suite never skips what needs
PostgreSQL: when none can be had, it fails and says how to get one.

A throwaway server is a plain ``postgres`` process owned by the test, so a test can stop
and restart it by process id. PostgreSQL refuses to run as root; as root it runs as the
``postgres`` user, else ``nobody``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import getpass
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TypedDict

from tests.support import processes

URL_VARIABLE = "PRESENCE_TEST_DATABASE_URL"
CI_URL = "postgresql://{user}@127.0.0.1:5432/test"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

_BINARY_DIRS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)


class NoPostgres(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _version_key(path: str) -> tuple[int, ...]:
    digits = [int(part) for part in Path(path).parent.name.replace("postgresql", "").split(".") if part.isdigit()]
    return tuple(digits) or (0,)


def find_binaries() -> Path | None:
    """A directory holding both ``initdb`` and ``postgres``."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in _BINARY_DIRS:
        candidates.extend(Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True))
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    try:
        import pgserver  # last: its import has side effects
    except ImportError:
        return None
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return bundled if (bundled / "initdb").is_file() else None


class RunAs(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def _run_as() -> RunAs:
    """Popen arguments that drop root: PostgreSQL will not run as root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise NoPostgres("running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")


class ThrowawayPostgres:
    """One ``postgres`` process on a free loopback port, its data in a temporary directory;
    ``stop`` and ``start`` again keep the data (an outage, then the same server back)."""

    user = "postgres"

    def __init__(self, binaries: Path | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise NoPostgres(
                "no PostgreSQL for the tests: none answers on 127.0.0.1:5432 and no initdb/postgres "
                "was found (PATH, /usr/lib/postgresql/*/bin, Homebrew, the pgserver package). "
                "Install PostgreSQL (e.g. apt-get install postgresql, brew install postgresql) "
                f"or set {URL_VARIABLE}=postgresql://user@host:port/database"
            )
        self.binaries = found
        self.port = free_port()
        self._as = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="presence-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        if self._as:
            os.chown(self.root, self._as["user"], self._as["group"])

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def _initdb(self) -> None:
        result = subprocess.run(
            [str(self.binaries / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, timeout=120, cwd=self.root, **self._as,
        )
        if result.returncode != 0:
            raise NoPostgres(f"initdb failed ({self.binaries}):\n{result.stdout}\n{result.stderr}")

    def start(self) -> ThrowawayPostgres:
        if self.process is not None and self.process.poll() is None:
            return self
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        with open(self.log_path, "ab") as log:
            process = self.process = subprocess.Popen(
                [str(self.binaries / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=100"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.root, start_new_session=True, **self._as,
            )
        processes.track(process, group=True, stop_signal=signal.SIGINT)
        self._wait_ready(process)
        return self

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        """postmaster.pid's status line says ``ready`` once connections are accepted (what
        ``pg_ctl -w`` waits for)."""
        deadline = time.monotonic() + START_TIMEOUT
        pid_file = self.data / "postmaster.pid"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise NoPostgres(f"postgres exited with {process.returncode}:\n{self.log()}")
            try:
                lines = pid_file.read_text().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[0].strip() == str(process.pid) and lines[7].strip() == "ready":
                return
            time.sleep(0.02)  # polling a file for a condition, bounded by the deadline
        raise NoPostgres(f"postgres not ready after {START_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster, by its pid): clients are cut off at once."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


def _can_connect(url: str) -> str | None:
    """None when ``url`` takes a connection, else why not."""

    async def probe() -> None:
        import asyncpg

        connection = await asyncpg.connect(url, timeout=3)
        await connection.close()

    # In a thread: the caller may be inside a running event loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            pool.submit(asyncio.run, probe()).result()
        except Exception as error:  # refused, no such database, auth … : try the next way
            return f"{type(error).__name__}: {error}"
    return None


_shared: str | None = None


def shared_postgres_url() -> str:
    """One server for the whole test run (tests isolate themselves in it); a throwaway one
    is stopped when the run ends."""
    global _shared
    if _shared is not None:
        return _shared
    explicit = os.environ.get(URL_VARIABLE)
    if explicit:
        problem = _can_connect(explicit)
        if problem:
            raise NoPostgres(f"{URL_VARIABLE}={explicit} does not take a connection: {problem}")
        _shared = explicit
        return _shared
    ci = CI_URL.format(user=getpass.getuser())
    if _can_connect(ci) is None:
        _shared = ci
        return _shared
    with processes.for_the_run():
        server = ThrowawayPostgres().start()
    atexit.register(server.close)
    _shared = server.url
    return _shared


class IsolatedSchema:
    """A schema of its own in a shared server, dropped afterwards: tests (and test runs on
    the same server, such as two developers' and CI's) never see each other's rows."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = f"test_{os.getpid()}_{os.urandom(6).hex()}"

    async def _execute(self, sql: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.url, timeout=10)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def __aenter__(self) -> str:
        await self._execute(f'CREATE SCHEMA "{self.name}"')
        return self.name

    async def __aexit__(self, *_: object) -> None:
        await self._execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
