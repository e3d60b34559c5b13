"""libpq's TLS parameters, for asyncpg.

Managed PostgreSQL hands out ``postgresql://…?sslmode=require``. SQLAlchemy passes URL query
parameters to ``asyncpg.connect()`` as keyword arguments, and asyncpg has no ``sslmode``
keyword: it takes ``ssl`` (the same mode names, or an ``SSLContext``). So the libpq names
are taken out of the URL here and turned into the argument asyncpg understands.
"""

from __future__ import annotations

import ssl

from sqlalchemy.engine import URL

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Files libpq reads for TLS; asyncpg only takes them inside an SSLContext.
_FILES = ("sslrootcert", "sslcert", "sslkey")


class InvalidTlsSettings(ValueError):
    """A TLS parameter of the database URL that cannot be honoured; the message names it."""


def libpq_tls(url: URL) -> tuple[URL, object | None]:
    """The URL without libpq's TLS parameters, and the ``ssl`` argument for asyncpg
    (None when the URL asks nothing of TLS)."""
    query = dict(url.query)
    mode = query.pop("sslmode", None)
    files = {name: query.pop(name) for name in _FILES if name in query}
    if mode is None and not files:
        return url, None
    mode = (mode if isinstance(mode, str) else (mode or ("",))[-1]).strip().lower() or "prefer"
    if mode not in SSL_MODES:
        raise InvalidTlsSettings(f"sslmode={mode!r} in DATABASE_URL: use one of {', '.join(SSL_MODES)}")
    stripped = url.set(query=query)
    if not files or mode == "disable":
        return stripped, mode
    return stripped, _context(mode, {k: v if isinstance(v, str) else v[-1] for k, v in files.items()})


def _context(mode: str, files: dict[str, str]) -> ssl.SSLContext:
    """As libpq does: a root certificate given with ``require`` means verify-ca."""
    try:
        context = ssl.create_default_context(cafile=files.get("sslrootcert"))
        if "sslcert" in files:
            context.load_cert_chain(files["sslcert"], files.get("sslkey"))
    except (OSError, ssl.SSLError) as error:
        raise InvalidTlsSettings(f"TLS files of DATABASE_URL cannot be read: {error}") from None
    verify = mode.startswith("verify") or "sslrootcert" in files
    context.check_hostname = mode == "verify-full"
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    return context
