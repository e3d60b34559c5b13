"""Without Redis, presence lives in one process. A second worker on the same data
directory would silently split it (each would know half the users), so the embedded
default holds a lock on the data directory and a second process refuses to start."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..wiring.settings import ConfigError

LOCK_FILE = "instance.lock"


class SingleInstanceLock:
    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def claim_single_instance(data_dir: Path) -> SingleInstanceLock:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"another gateway process is serving from {data_dir}: without Redis, presence lives in one "
            "process — run a single worker, or set CACHE_HOST (or REDIS_URL) so instances share presence"
        ) from None
    return SingleInstanceLock(fd)
