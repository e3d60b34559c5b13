"""The ``presence-gateway`` command: ``serve`` and ``token``."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace

from ..adapters.jwt.minter import mint_token
from .secrets import resolve_jwt_secret
from .settings import ConfigError, load_settings, parse_duration


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="presence-gateway", description="Real-time presence over Socket.IO.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the gateway")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, env HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default 3000, env PORT)")
    token = commands.add_parser("token", help="mint a development JWT for a user")
    token.add_argument("--user", required=True, help="the user id (claim sub)")
    token.add_argument("--expires-in", help="lifetime such as 3600, 12h or 7d (default JWT_EXPIRES_IN, 7d)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "serve":
            if args.host:
                settings = replace(settings, host=args.host)
            if args.port:
                settings = replace(settings, port=args.port)
            from .serve import run

            run(settings)
            return 0
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        secret = resolve_jwt_secret(settings, announce=False)
        expires = parse_duration(args.expires_in, "--expires-in") if args.expires_in else settings.jwt_expires_in
        print(mint_token(secret, args.user, expires))
        return 0
    except ConfigError as error:
        print(f"presence-gateway: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
