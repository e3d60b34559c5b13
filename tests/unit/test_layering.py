"""The domain stays pure: no I/O library, no asyncio, no outer layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "domain"
FORBIDDEN = {
    "asyncio", "redis", "sqlalchemy", "asyncpg", "aiosqlite", "socketio", "engineio",
    "quart", "hypercorn", "authlib", "joserfc", "orjson", "dependency_injector",
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_nothing_from_outside(path: Path) -> None:
    for name in imported_modules(path):
        assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
        assert not name.startswith(".."), f"{path.name} reaches an outer layer through {name}"
        assert "adapters" not in name and "entrypoints" not in name, f"{path.name} imports {name}"
