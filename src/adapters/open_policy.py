"""The embedded default AudiencePolicy: any authenticated user may watch anyone, as in a
chat where every member's dot is public (PRESENCE_AUDIENCE=open)."""

from __future__ import annotations

from collections.abc import Sequence


class OpenAudience:
    __slots__ = ()

    async def allowed(self, viewer: str, targets: Sequence[str]) -> set[str]:
        return set(targets)
