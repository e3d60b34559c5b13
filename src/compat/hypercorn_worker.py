"""Reads what hypercorn 0.18's ``hypercorn.run._populate`` hands each worker process: what
a process learns about itself when hypercorn's parent runs it as a worker.

``hypercorn --workers N`` (and ``presence-gateway serve --workers N``, which runs the same
code) binds the port in a parent and spawns N processes that all accept on it; the
parent stops them by setting a shared event, then sends SIGTERM to whichever is still
running once the first has exited. Hypercorn does not tell the application any of this,
but its parent hands each worker ``config``, ``sockets`` and ``shutdown_event`` as the
keyword arguments of its ``multiprocessing`` process (``hypercorn.run._populate``, 0.14
to 0.18), which the worker can read back while it runs. The gateway needs two things
from them: how many processes share the port (long-polling cannot work across them),
and the event, to start its own shutdown the moment the parent asks instead of after
hypercorn's graceful wait.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from typing import Any, Protocol


class _Flag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class HypercornWorker:
    workers: int
    shutdown_event: _Flag

    @property
    def parent_stopping(self) -> bool:
        return self.shutdown_event.is_set()


def hypercorn_worker(process: Any = None) -> HypercornWorker | None:
    """This process as one of hypercorn's workers, or None when hypercorn serves in-process
    (``presence-gateway serve`` with one worker, tests) or anything else runs it."""
    process = process or multiprocessing.current_process()
    kwargs = getattr(process, "_kwargs", None)
    if not isinstance(kwargs, dict):
        return None
    config, event = kwargs.get("config"), kwargs.get("shutdown_event")
    workers = getattr(config, "workers", None)
    if not isinstance(workers, int) or workers < 1 or event is None or not callable(getattr(event, "is_set", None)):
        return None
    return HypercornWorker(workers=workers, shutdown_event=event)
