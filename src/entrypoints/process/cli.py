"""The ``presence-gateway`` command: ``serve``, ``token`` and ``db``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from ...adapters.jwt.minter import mint_token
from ...adapters.sql.tls import InvalidTlsSettings
from ...domain.errors import InvalidPayload, InvalidStatuses
from ...domain.user_ids import checked_user_id
from ..wiring.secrets import existing_jwt_secret
from ..wiring.settings import ConfigError, Settings, load_settings, parse_duration
from .version import installed_version


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="presence-gateway", description="Real-time presence over Socket.IO.")
    parser.add_argument("--version", action="version", version=f"presence-gateway {installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the gateway")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, env HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default 3000, env PORT)")
    serve.add_argument(
        "--workers", type=int, default=1,
        help="processes accepting on the port (default 1); more than one needs Redis and serves WebSocket only",
    )
    serve.add_argument(
        "--server", choices=("hypercorn", "uvicorn"), default="hypercorn",
        help="the ASGI server (default hypercorn, the documented deployment); uvicorn is an opt-in to compare, "
        "one process, pip install 'presence-gateway[uvicorn]'",
    )
    token = commands.add_parser("token", help="mint a development JWT for a user")
    token.add_argument("--user", required=True, help="the user id (claim sub)")
    token.add_argument("--expires-in", help="lifetime such as 3600, 12h or 7d (default JWT_EXPIRES_IN, 7d)")
    db = commands.add_parser("db", help="the durable table's schema (DATABASE_URL, else the SQLite file)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply the migrations this gateway ships")
    upgrade.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    downgrade = db_commands.add_parser("downgrade", help="undo migrations down to a revision")
    downgrade.add_argument("revision", help="target revision, or base to drop the table")
    db_commands.add_parser("current", help="print the schema revision; exit 1 unless up to date")
    return parser



def _db(settings: Settings, command: str, target: str | None) -> int:
    """Changes the schema only where the operator says so; prints where it did what."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from ...adapters.sql import migrate
    from ...adapters.sql.engine import printable_url
    from ..wiring.containers import database_engine
    from .database import database_url

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)  # "Running upgrade …"
    where = printable_url(database_url(settings))

    async def run() -> int:
        async with database_engine(settings) as engine:
            before = await migrate.revision(engine)
            if command == "upgrade":
                await migrate.upgrade(engine, target or "head")
            elif command == "downgrade" and target is not None:
                await migrate.downgrade(engine, target)
            after = await migrate.revision(engine)
        if command == "current":
            print(f"{where}: {after.describe()}")
            return 0 if after.up_to_date else 1
        print(f"{where}: {before.current or 'empty'} -> {after.describe()}")
        return 0

    try:
        return asyncio.run(run())
    except (OSError, TimeoutError, DBAPIError, CommandError) as error:
        raise ConfigError(f"db {command} on {where} failed: {migrate.describe_error(error)}") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "serve":
            if args.host:
                settings = settings.changed("server", host=args.host)
            if args.port:
                settings = settings.changed("server", port=args.port)
            if args.workers < 1:
                raise ConfigError(f"--workers {args.workers}: use 1 or more")
            if args.server == "uvicorn" and args.workers != 1:
                raise ConfigError(
                    f"--server uvicorn serves one process; --workers {args.workers} is hypercorn's (the default server)"
                )
            from ..wiring.containers import refuse_split_presence

            refuse_split_presence(settings, args.workers)
            if args.server == "uvicorn":
                from . import serve_uvicorn

                return serve_uvicorn.run(settings)
            from .serve import run

            return run(settings, args.workers)
        if args.command == "db":
            return _db(settings, args.db_command, getattr(args, "revision", None))
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        user_id = checked_user_id(args.user)  # a token the gateway would refuse is never minted
        secret = existing_jwt_secret(settings)
        expires = parse_duration(args.expires_in, "--expires-in") if args.expires_in else settings.tokens.expires_in
        print(mint_token(secret, user_id, expires))
        return 0
    except (ConfigError, InvalidStatuses, InvalidTlsSettings, InvalidPayload) as error:
        print(f"presence-gateway: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
