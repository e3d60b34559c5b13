"""The warning and error lines of a server's log, counted alike once timestamps and object
addresses are taken out (traceback frames are left out)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+\S* ")
_ADDRESS = re.compile(r"0x[0-9a-f]+")
_NOTABLE = re.compile(r"\b(ERROR|CRITICAL|WARNING)\b|^Traceback|^[\w.]*(Error|Exception|Warning)\b|\w+Warning:")


def notable_log_lines(log_path: Path) -> Counter:
    if not log_path.exists():
        return Counter()
    lines = log_path.read_text(errors="replace").splitlines()
    cleaned = (_ADDRESS.sub("0x…", _TIMESTAMP.sub("", line)) for line in lines)
    return Counter(line for line in cleaned if _NOTABLE.search(line))


def log_tail(log_path: Path, lines: int = 12) -> str:
    if not log_path.exists():
        return "(no log)"
    return "\n".join(f"  | {line[:200]}" for line in log_path.read_text(errors="replace").splitlines()[-lines:])
