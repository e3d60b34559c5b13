"""The one rule for user ids: the token's subject, and every id a client names.

An id becomes part of Redis keys, log lines, JSON frames and a database key, so it must be
printable, encodable and bounded, and it must never reach another key's name:

- 1 to 255 characters (the durable table's key);
- printable (``str.isprintable``): no control character (a newline forges log lines, NUL is
  refused by PostgreSQL), no format character, no lone surrogate (JSON's ``"\\ud800"``
  decodes to one; no encoder or driver accepts it);
- no ``:``, ``{`` or ``}``: every key the guide names has a fixed number of ``:``-separated
  parts (``presence:{userId}:{socketId}`` three, ``presence:sockets:{userId}`` three, …), so
  an id without ``:`` cannot extend one key into another, and without braces it cannot
  move a key's Redis Cluster hash tag;
- not one of the words the key layout puts where an id goes (``sockets``, ``online`` …):
  user ``sockets`` with socket S would write ``presence:sockets:S``, user S's socket set.

Ordinary ids (``42``, ``u-7``, ``alice@example.com``, ``auth0|5f…``) keep the guide's key
names unchanged. Cost: one pass over the id, at connect or per id named in a call.
"""

from __future__ import annotations

from .errors import InvalidPayload

MAX_USER_ID = 255

# The second part of every key that is not a session key (see adapters/redis/keys.py;
# a contract test checks that this set covers the layout).
KEY_KIND_WORDS = frozenset(
    {
        "sockets", "online", "status", "leaving", "restored", "instance", "instances", "decays", "epoch", "graces",
        "updates", "devices",
    }
)
_SEPARATORS = frozenset(":{}")


def user_id_problem(user_id: str) -> str | None:
    """Why ``user_id`` is refused, or None when it is a valid id."""
    if not user_id:
        return "empty"
    if len(user_id) > MAX_USER_ID:
        return f"longer than {MAX_USER_ID} characters"
    if not user_id.isprintable():
        return "not printable (a control or format character, or an unpaired surrogate)"
    if not _SEPARATORS.isdisjoint(user_id):
        return "contains ':', '{' or '}'"
    if user_id in KEY_KIND_WORDS:
        return "a word the key layout reserves"
    return None


def checked_user_id(value: object) -> str:
    """``value`` as a user id (an integer is taken as its digits), or ``InvalidPayload``
    saying why it is refused: the one message every surface that is handed an id gives."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidPayload(f"each user id must be a string of 1 to {MAX_USER_ID} characters")
    problem = user_id_problem(value)
    if problem is not None:
        raise InvalidPayload(f"user id {value[:64]!r} is refused: {problem}")
    return value
