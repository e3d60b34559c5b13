"""The durable presence table, read by the chat backend, and the contacts table it fills
(both documented in the README).

The migrations in ``migrations/versions`` create and change it; this description is what
the queries are built from, and a test holds the two to the same columns.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

user_presence = Table(
    "user_presence",
    metadata,
    Column("user_id", String(255), primary_key=True),
    # What other users see (INVISIBLE is stored as OFFLINE).
    Column("status", String(64), nullable=False),
    # The status the user chose and keeps across reconnects (IDLE, DND, INVISIBLE), or NULL.
    Column("chosen_status", String(64), nullable=True),
    Column("last_seen_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The custom status (NULL text: none), and when it clears itself (NULL: never).
    Column("custom_text", String(128), nullable=True),
    Column("custom_emoji", String(32), nullable=True),
    Column("custom_expires_at", DateTime(timezone=True), nullable=True),
)

# Who may watch whom under PRESENCE_AUDIENCE=contacts: a row lets ``viewer_id`` see
# ``target_id``'s presence (one direction; a friendship is two rows). The chat backend
# writes it; the gateway only reads it, by viewer (the primary key's first column).
presence_contacts = Table(
    "presence_contacts",
    metadata,
    Column("viewer_id", String(255), primary_key=True),
    Column("target_id", String(255), primary_key=True),
)

# The change stream of the embedded default (the Redis Stream's stand-in): every change
# others can see, in order; ``id`` is the entry's id as the server API's ``changes`` give it.
CHANGE_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: the rowid, ever growing
presence_changes = Table(
    "presence_changes",
    metadata,
    Column("id", CHANGE_ID, primary_key=True, autoincrement=True),
    Column("user_id", String(255), nullable=False),
    Column("body", Text, nullable=False),  # the JSON of the presence:updates message
    Column("created_at", Float, nullable=False),
)

# The webhooks' consumer group there: how far delivery got, and who delivers.
presence_webhook_cursor = Table(
    "presence_webhook_cursor",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("leader", String(255), nullable=True),
    Column("lead_until", Float, nullable=False),
)

# Changes whose delivery gave up, kept for an operator to replay.
presence_webhook_dead = Table(
    "presence_webhook_dead",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),
    Column("reason", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
)
