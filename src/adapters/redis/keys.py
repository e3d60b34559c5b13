"""Key names, exactly as the integration guide names them (other services read them).

With ``cluster`` the user id is written as a hash tag — ``presence:sockets:{42}`` — so all
of one user's keys share a slot and one Lua script may touch them all. The naming lives
here alone, so both forms are the same code.
"""

from __future__ import annotations


class RedisKeys:
    __slots__ = ("_cluster",)

    def __init__(self, cluster: bool = False) -> None:
        self._cluster = cluster

    def _user(self, user_id: str) -> str:
        return "{" + user_id + "}" if self._cluster else user_id

    def session(self, user_id: str, session_id: str) -> str:
        return f"presence:{self._user(user_id)}:{session_id}"

    def sockets(self, user_id: str) -> str:
        return f"presence:sockets:{self._user(user_id)}"

    def online(self, user_id: str) -> str:
        return f"presence:online:{self._user(user_id)}"

    def choice(self, user_id: str) -> str:
        return f"presence:status:{self._user(user_id)}"

    def leaving(self, user_id: str) -> str:
        return f"presence:leaving:{self._user(user_id)}"

    def restored_choice(self, user_id: str) -> str:
        return f"presence:restored:{self._user(user_id)}"

    @staticmethod
    def instance_sessions(instance: str) -> str:
        return f"presence:instance:{instance}:sessions"

    @staticmethod
    def decays() -> str:
        return "presence:decays"

    @staticmethod
    def epoch() -> str:
        return "presence:epoch"

    @staticmethod
    def graces() -> str:
        return "presence:graces"

    @staticmethod
    def instances() -> str:
        return "presence:instances"

    @staticmethod
    def lease(instance: str) -> str:
        return f"presence:instance:{instance}:lease"

    @staticmethod
    def instance_restored(instance: str) -> str:
        return f"presence:instance:{instance}:restored"


def split_member(member: str) -> tuple[str, str]:
    """An instance index member, as the scripts write it: the session id first (session
    ids never contain ':'; user ids may)."""
    session_id, _, user_id = member.partition(":")
    return user_id, session_id
