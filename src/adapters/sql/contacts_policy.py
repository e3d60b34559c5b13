"""AudiencePolicy from the ``presence_contacts`` table the chat backend fills (accepted
friendships, members of a shared workspace …): a row (viewer, target) lets the viewer
watch the target. Read through the status repository's engine, so it lives in the same
database, whose migrations create it (PRESENCE_AUDIENCE=contacts)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ...domain.errors import Unavailable
from .batches import chunks
from .schema import presence_contacts


class SqlContactsAudience:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def allowed(self, viewer: str, targets: Sequence[str]) -> set[str]:
        if not targets:
            return set()
        t = presence_contacts
        allowed: set[str] = set()
        try:
            async with self._engine.connect() as conn:
                for chunk in chunks(targets):
                    query = select(t.c.target_id).where(t.c.viewer_id == viewer, t.c.target_id.in_(chunk))
                    allowed.update((await conn.execute(query)).scalars())
        except (OSError, TimeoutError, SQLAlchemyError) as error:
            raise Unavailable("the contacts of this user cannot be read now") from error
        return allowed
