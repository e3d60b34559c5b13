"""The schema at start: the embedded file is upgraded; in production a DATABASE_URL
database is only checked, and a gateway whose schema is behind, or whose database cannot
be reached, refuses to start and says what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.postgres_server import free_port

from .gateway_process import SECRET, GatewayProcess
from .test_lifecycle import cli

pytestmark = pytest.mark.e2e


def test_a_database_that_cannot_be_reached_refuses_the_start(tmp_path: Path) -> None:
    url = f"postgresql://presence:secret-password@127.0.0.1:{free_port()}/presence"

    result = cli("serve", "--port", str(free_port()), cwd=tmp_path, DATABASE_URL=url)

    assert result.returncode == 2, result.stderr
    assert "cannot be used: ConnectionRefusedError" in result.stderr
    assert "secret-password" not in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_schema_that_is_behind_until_db_upgrade_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    production = {"PRESENCE_ENV": "production", "JWT_SECRET_ACCESS": SECRET, "DATABASE_URL": url}

    refused = cli("serve", "--port", str(free_port()), cwd=tmp_path, **production)

    assert refused.returncode == 2, refused.stderr
    assert "no presence schema yet" in refused.stderr and "presence-gateway db upgrade" in refused.stderr
    assert not _tables(tmp_path / "shared.sqlite3") - {"presence_gateway_alembic_version"}, "production migrated"

    upgraded = cli("db", "upgrade", cwd=tmp_path, **production)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    assert cli("db", "current", cwd=tmp_path, **production).returncode == 0

    gateway = GatewayProcess(tmp_path / "gateway", PRESENCE_ENV="production")
    gateway.env["DATABASE_URL"] = url
    gateway.start()
    gateway.stop()
    assert gateway.process.returncode == 0, gateway.log()


def test_the_embedded_file_is_upgraded_on_start(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path).start()
    gateway.stop()

    assert {"user_presence", "presence_gateway_alembic_version"} <= _tables(gateway.data_dir / "presence.sqlite3")
    current = cli("db", "current", cwd=tmp_path, PRESENCE_DATA_DIR=str(gateway.data_dir), DATABASE_URL="")
    assert current.returncode == 0 and "up to date" in current.stdout, current.stdout + current.stderr


def _tables(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
