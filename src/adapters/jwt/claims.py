"""The user a token claims to be, read without verifying it.

Connection attempts are counted per claimed user before the token is verified, so a storm
of connects naming one user is refused before any signature check or store call. Nothing
read here is trusted: the count only refuses, and a forged claim spends the budget of the
user it names (the per-address count bounds that).
"""

from __future__ import annotations

import base64
import binascii
import json

from .verifier import MAX_TOKEN_LENGTH


def claimed_subject(token: object) -> str | None:
    """The ``sub`` of a compact JWT as it stands, or None when there is none to read."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    scheme, _, rest = token.partition(" ")
    if rest and scheme.lower() == "bearer":
        token = rest.strip()
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    if isinstance(subject, int) and not isinstance(subject, bool):
        return str(subject)
    return subject if isinstance(subject, str) else None
