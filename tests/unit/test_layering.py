"""The layers hold: the domain is rules and ports only (no I/O library, no anyio, no
logging, no clock reads); the service layer drives it and reaches no adapter or
entrypoint; nothing runs back up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
DOMAIN = SRC / "domain"
SERVICE_LAYER = SRC / "service_layer"
IO_LIBRARIES = {
    "asyncio", "redis", "sqlalchemy", "asyncpg", "aiosqlite", "socketio", "engineio",
    "quart", "hypercorn", "authlib", "joserfc", "orjson", "dependency_injector",
}
# The domain decides; scheduling, logging and reading the time are the service layer's.
DOMAIN_FORBIDDEN = IO_LIBRARIES | {"anyio", "trio", "logging", "time", "datetime", "threading"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_only_rules(path: Path) -> None:
    for name in imported_modules(path):
        assert name.split(".")[0] not in DOMAIN_FORBIDDEN, f"{path.name} imports {name}"
        assert not name.startswith(".."), f"{path.name} reaches an outer layer through {name}"


@pytest.mark.parametrize("path", sorted(SERVICE_LAYER.glob("*.py")), ids=lambda p: p.name)
def test_service_layer_reaches_no_adapter_or_entrypoint(path: Path) -> None:
    for name in imported_modules(path):
        assert name.split(".")[0] not in IO_LIBRARIES, f"{path.name} imports {name}"
        assert "adapters" not in name and "entrypoints" not in name, f"{path.name} imports {name}"
        if name.startswith(".."):
            assert name.startswith("..domain"), f"{path.name} reaches {name}"


@pytest.mark.parametrize("path", sorted((SRC / "compat").glob("*.py")), ids=lambda p: p.name)
def test_compat_touches_the_frameworks_only(path: Path) -> None:
    """Adapters and entrypoints use compat; compat reaches none of the gateway's layers but
    the pure domain (its retry and outage counts)."""
    for name in imported_modules(path):
        assert not name.startswith("..") or name.startswith("..domain"), f"{path.name} reaches {name}"


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import logging\nfrom anyio import sleep\nfrom ..service_layer import x\n")
    names = imported_modules(bad)
    assert {"logging", "anyio", "..service_layer"} <= names
    assert {n.split(".")[0] for n in names} & DOMAIN_FORBIDDEN
