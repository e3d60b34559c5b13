"""The rich-presence fields every presence others see carries (``devices``,
``customStatus``, ``seq``), written once for every surface that sends one: the Socket.IO
broadcast, the ``presence:updates`` channel message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..domain.presence import PresenceChanged
from ..domain.rich_presence import CustomStatus


def iso_timestamp(at: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as JavaScript's ``toISOString`` writes it."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def custom_status_body(custom: CustomStatus | None) -> dict[str, Any] | None:
    if custom is None:
        return None
    expires = None if custom.expires_at is None else iso_timestamp(custom.expires_at)
    return {"text": custom.text, "emoji": custom.emoji, "expiresAt": expires}


def seen_fields(change: PresenceChanged) -> dict[str, Any]:
    """What others see of a change beside its status (the same for the user's own sockets:
    they see their devices and custom status as everybody does, and the same ``seq``)."""
    return {
        "devices": dict(change.devices),
        "customStatus": custom_status_body(change.custom_status),
        "seq": change.seq,
    }
