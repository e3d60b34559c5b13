"""Statuses a team adds by declaring them, not by editing code.

The primary way is a TOML file named by ``PRESENCE_STATUSES_FILE``; a Python package may
also contribute declarations of the same shape through the entry point group
``presence_gateway.statuses`` (an object, or a callable returning one, shaped like the
file). Built-ins are declared with the same ``Status`` record; a file may give one a decay
(``[[decay]]``) but not redeclare it. Every problem is refused at start, by name.

    [[status]]
    name = "STREAMING"          # required, 1-64 printable characters
    choosable = true            # may a user pick it (default true)
    seen_as = "STREAMING"       # what other users see (default: itself)
    online = true               # counts as online (default: as the status it is seen as)
    remembered = true           # kept across reconnects (default true)
    decay = { after = "1h", to = "AWAY" }   # optional
    scope = "user"              # "user" (one choice for all sockets) or "socket" (default "user")

    [[decay]]                   # a decay for a built-in status
    status = "IDLE"
    after = "10m"
    to = "AWAY"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from ..domain.errors import InvalidStatuses
from ..domain.statuses import BUILTIN_NAMES, BUILTIN_STATUSES, SCOPES, USER_SCOPE, Decay, Status, StatusRegistry
from .durations import parse_duration

ENTRY_POINT_GROUP = "presence_gateway.statuses"
_STATUS_KEYS = {"name", "choosable", "seen_as", "online", "remembered", "decay", "scope"}
_DECAY_KEYS = {"after", "to"}
_BUILTIN_DECAY_KEYS = {"status", "after", "to"}


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InvalidStatuses(f"{where}: unknown key {unknown[0]!r} (one of {', '.join(sorted(allowed))})")


def _flag(table: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise InvalidStatuses(f"{where}: {key} must be true or false")
    return value


def _decay(table: Any, where: str) -> Decay:
    if not isinstance(table, Mapping):
        raise InvalidStatuses(f"{where}: decay must be a table such as {{ after = \"10m\", to = \"AWAY\" }}")
    try:
        after = parse_duration(table.get("after"))
    except ValueError as error:
        raise InvalidStatuses(f"{where}: decay after {error}") from None
    to = table.get("to")
    if not isinstance(to, str) or not to:
        raise InvalidStatuses(f"{where}: decay needs the status it decays to")
    return Decay(float(after), to)


def _declared_status(table: Any, where: str) -> tuple[Status, bool]:
    """The status, and whether ``online`` was left to follow ``seen_as``."""
    if not isinstance(table, Mapping):
        raise InvalidStatuses(f"{where}: a status is a table with at least a name")
    _check_keys(table, _STATUS_KEYS, where)
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidStatuses(f"{where}: a status needs a name")
    where = f"{where} ({name})"
    if name in BUILTIN_NAMES:
        raise InvalidStatuses(f"{where}: {name} clashes with a built-in status; give it a decay with [[decay]] instead")
    seen_as = table.get("seen_as")
    if seen_as is not None and not isinstance(seen_as, str):
        raise InvalidStatuses(f"{where}: seen_as must name a status")
    scope = table.get("scope", USER_SCOPE)
    if scope not in SCOPES:
        raise InvalidStatuses(f"{where}: scope must be one of {', '.join(repr(s) for s in SCOPES)}")
    status = Status(
        name=name,
        choosable=_flag(table, "choosable", True, where),
        seen_as=None if seen_as in (None, name) else seen_as,
        online=_flag(table, "online", True, where),
        remembered=_flag(table, "remembered", True, where),
        decay=_decay(table["decay"], where) if "decay" in table else None,
        scope=scope,
    )
    return status, "online" not in table


def declared_statuses(document: Mapping[str, Any], source: str) -> list[Status]:
    """Built-ins plus what one document declares, as ``Status`` records."""
    _check_keys(document, {"status", "decay"}, source)
    statuses: dict[str, Status] = {s.name: s for s in BUILTIN_STATUSES}
    follows_target: set[str] = set()
    for index, table in enumerate(document.get("status", [])):
        status, follows = _declared_status(table, f"{source}: status #{index + 1}")
        if status.name in statuses:
            raise InvalidStatuses(f"{source}: status {status.name} is declared twice")
        statuses[status.name] = status
        if follows:
            follows_target.add(status.name)
    for name in follows_target:  # online follows the status it is seen as, unless given
        status = statuses[name]
        target = statuses.get(status.public_name)
        if target is not None and status.seen_as is not None:
            statuses[name] = replace(status, online=target.online)
    for index, table in enumerate(document.get("decay", [])):
        where = f"{source}: decay #{index + 1}"
        if not isinstance(table, Mapping):
            raise InvalidStatuses(f"{where}: a decay is a table with status, after and to")
        _check_keys(table, _BUILTIN_DECAY_KEYS, where)
        decaying = table.get("status")
        if decaying not in statuses:
            raise InvalidStatuses(f"{where}: decays {decaying!r}, which is not declared")
        if statuses[decaying].decay is not None:
            raise InvalidStatuses(f"{where}: {decaying} already decays")
        statuses[decaying] = replace(statuses[decaying], decay=_decay({k: table.get(k) for k in _DECAY_KEYS}, where))
    return list(statuses.values())


def _merge(documents: Iterable[tuple[Mapping[str, Any], str]]) -> list[Status]:
    merged: dict[str, list[Any]] = {"status": [], "decay": []}
    sources = []
    for document, source in documents:
        _check_keys(document, {"status", "decay"}, source)
        for key in merged:
            tables = document.get(key, [])
            if not isinstance(tables, list):
                raise InvalidStatuses(f"{source}: {key} must be a list of tables ([[{key}]])")
            merged[key].extend(tables)
        sources.append(source)
    return declared_statuses(merged, " + ".join(sources) or "built-ins")


def _read_file(path: Path) -> Mapping[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidStatuses(f"PRESENCE_STATUSES_FILE={path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidStatuses(f"{path}: {error}") from None


def _from_entry_point(entry: EntryPoint) -> Mapping[str, Any]:
    loaded = entry.load()
    document = loaded() if callable(loaded) else loaded
    if not isinstance(document, Mapping):
        raise InvalidStatuses(f"entry point {entry.name} ({entry.value}) did not give a table of statuses")
    return document


def load_registry(path: str | Path | None, plugins: Iterable[EntryPoint] | None = None) -> StatusRegistry:
    """The registry the gateway serves: built-ins, the statuses file, installed plugins."""
    if plugins is None:
        plugins = entry_points(group=ENTRY_POINT_GROUP)
    documents = [(_from_entry_point(entry), f"entry point {entry.name}") for entry in plugins]
    if path:
        documents.append((_read_file(Path(path)), str(path)))
    statuses = _merge(documents)
    try:
        return StatusRegistry(statuses)
    except InvalidStatuses as error:
        sources = ", ".join(source for _, source in documents) or "built-ins"
        raise InvalidStatuses(f"{sources}: {error}") from None
