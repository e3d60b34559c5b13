"""Which user a room belongs to, for the routing by interest: an instance hears a user's
channel while one of its sockets is in ``user:{userId}`` or ``watchers:{userId}``."""

from __future__ import annotations

from .broadcaster import user_room, watchers_room

_PREFIXES = (user_room(""), watchers_room(""))


def user_of_room(room: str) -> str | None:
    for prefix in _PREFIXES:
        if room.startswith(prefix):
            return room[len(prefix) :]
    return None


def rooms_of_user(user_id: str) -> tuple[str, str]:
    return user_room(user_id), watchers_room(user_id)
