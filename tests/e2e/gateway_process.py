"""A real gateway: ``presence-gateway serve`` in its own process (and process group), on
a free port — or several workers on that port, under ``serve --workers N`` or under a
plain ``hypercorn --workers N`` command line as users deploy it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support import processes

SECRET = "e2e-secret-that-is-long-enough-for-hs256"
APP_FACTORY = "presence_gateway.entrypoints.asgi:create_app()"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``GET /metrics`` at ``url``, each sample by its name and labels."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    def __init__(self, workdir: Path, *, workers: int | str = 1, runner: str = "serve", **env: str) -> None:
        """``runner`` is ``serve`` (``presence-gateway serve --workers N``), ``hypercorn``
        (``hypercorn 'app:create_app()' --workers N``) or ``uvicorn`` (``presence-gateway serve
        --server uvicorn``); ``env``, the variables it is given
        (a mapping of them passed as ``**env`` may name ``workers`` too, as text)."""
        self.workdir = workdir
        self.workers = int(workers)
        self.runner = runner
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(env.get("PRESENCE_DATA_DIR") or workdir / "data")
        self.log_path = workdir / "gateway.log"
        inherited = {k: v for k, v in os.environ.items() if k not in ("CACHE_HOST", "REDIS_URL", "DATABASE_URL")}
        self.env = {
            **inherited,
            "JWT_SECRET_ACCESS": SECRET,
            "PRESENCE_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            # OFFLINE at once unless a test is about the grace period.
            "PRESENCE_OFFLINE_GRACE": "0",
            **env,
        }
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The server's process, once spawned."""
        if self._process is None:
            raise RuntimeError("the gateway was never started")
        return self._process

    @property
    def command(self) -> list[str]:
        if self.runner == "hypercorn":
            bind = f"127.0.0.1:{self.port}"
            return [sys.executable, "-m", "hypercorn", APP_FACTORY, "--workers", str(self.workers), "--bind", bind]
        serve = [sys.executable, "-m", "presence_gateway.entrypoints.process.cli", "serve", "--port", str(self.port)]
        if self.runner == "uvicorn":
            serve += ["--server", "uvicorn"]
        return serve + (["--workers", str(self.workers)] if self.workers != 1 else [])

    def spawn(self) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        process = self._process = subprocess.Popen(
            self.command, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        processes.track(process, group=True)
        return process

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        self.spawn()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop(group=True)  # never leave a server (or its workers) behind
            raise
        return self

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 20.0) -> None:
        """Until ``text`` appears ``count`` times in the log (say, once per worker)."""
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not logged {count} times after {timeout}s:\n{self.log()}")
            time.sleep(0.05)  # poll the log; bounded by the deadline

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)  # poll for readiness; bounded by the deadline
        raise TimeoutError(f"gateway not ready after {timeout}s:\n{self.log()}")

    def stop(self, timeout: float = 15.0, *, group: bool = False) -> float:
        """SIGTERM this process only, or (``group``) its whole process group, workers
        included, as systemd or a terminal does; returns how long it took to exit."""
        if self._process is None or self._process.poll() is not None:
            return 0.0
        started = time.monotonic()
        if group:
            os.killpg(self.process.pid, signal.SIGTERM)
        else:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise
        return time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def durable_status(self, user_id: str) -> tuple[str, str | None] | None:
        import sqlite3

        with sqlite3.connect(self.data_dir / "presence.sqlite3") as db:
            row = db.execute("SELECT status, chosen_status FROM user_presence WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else (row[0], row[1])
