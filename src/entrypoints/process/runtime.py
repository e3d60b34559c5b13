"""Interpreter settings a server with thousands of connections needs, applied in the
worker process.

- The GIL switch interval. The event loop shares the interpreter with helper threads
  (aiosqlite's, DNS lookups): while one of them runs Python, the loop waits for the GIL up
  to the switch interval, 5 ms by default, which showed as 4-5 ms stalls of every socket
  during SQLite writes. 0.5 ms bounds that wait.
- The cyclic garbage collector. A connection is about 130 objects the collector tracks,
  and every one of them is scanned by each collection of the generation it sits in: with
  the defaults a storm of 3000 connects spent 1.6 s in 1300 collections, one of them a
  373 ms pause of every socket. Objects made at start-up (modules, the app) live as long
  as the process and are frozen out of the scans once the gateway is ready; a young
  generation of 10 000 objects makes collections ten times rarer. The same storm: 0.7 s,
  longest pause 107 ms. Objects freed by reference counting (most of a closed connection)
  are unaffected; cycles are still collected.
"""

from __future__ import annotations

import gc
import sys

GIL_SWITCH_INTERVAL = 0.0005
GC_THRESHOLDS = (10_000, 10, 10)


def tune_interpreter() -> None:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_start_up_objects() -> None:
    """Once serving: what exists now lives as long as the process."""
    gc.collect()
    gc.freeze()
