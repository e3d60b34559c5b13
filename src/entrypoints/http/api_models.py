"""The HTTP API's bodies as pydantic models: the OpenAPI document's schemas are generated
from them (``openapi.py``), and the tests hold every answer of the routes to them
(``extra="forbid"``: a field a route adds that no model has fails), so the document cannot
drift from what the gateway sends."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Body):
    code: str = Field(description="Stable, for programs: invalid_payload, unknown_status, missing_token, …")
    message: str = Field(description="For people; it may change")


class ErrorBody(_Body):
    error: ErrorDetail


class CustomStatus(_Body):
    text: str
    emoji: str | None = None
    expiresAt: str | None = Field(None, description="ISO-8601 UTC; it clears itself then")


class UserIds(_Body):
    userIds: list[str] = Field(description="At most PRESENCE_MAX_IDS_PER_CALL ids (1000 by default)")


class SeenPresence(_Body):
    """A user as a watcher sees them (INVISIBLE shows as OFFLINE)."""

    userId: str
    status: str
    lastSeen: str | None
    devices: dict[str, str] = Field(description="Device kind → its state (ONLINE: active, or IDLE)")
    customStatus: CustomStatus | None
    seq: int = Field(description="The user's version: drop what is not newer than what you applied")


class SeenSnapshot(_Body):
    presence: list[SeenPresence]
    denied: list[str] = Field(description="Ids the audience policy does not let this viewer see")


class ServerPresence(_Body):
    """A user's true state, for the backend (INVISIBLE shown as INVISIBLE)."""

    userId: str
    status: str = Field(description="What the user is, as their own sockets see it")
    visibleStatus: str = Field(description="What everybody else sees")
    devices: dict[str, str]
    customStatus: CustomStatus | None
    lastSeen: str | None
    seq: int
    sockets: int = Field(description="Live sockets on every instance")


class ServerQueryAnswer(_Body):
    presence: list[ServerPresence]


class Connection(_Body):
    socketId: str
    device: str
    instance: str
    connectedAt: str
    lastPingAt: str = Field(description="The last ping (or the connect): the socket ends a TTL after it")
    state: str = Field(description="ONLINE (active) or a socket's own state such as IDLE")
    idle: bool


class OfflineGrace(_Body):
    active: bool = Field(description="No socket left, still shown as before until `until` (a reload is no flap)")
    until: str | None


class UserExplained(ServerPresence):
    connections: list[Connection]
    offlineGrace: OfflineGrace


class DisconnectRequest(_Body):
    reason: str | None = Field(None, max_length=200, description="Sent to each socket as presence:disconnected")
    block: float | None = Field(None, gt=0, le=30 * 86_400, description="Seconds to refuse reconnects (blocked)")


class DisconnectAnswer(_Body):
    disconnected: int = Field(description="Sockets closed, on every instance")


class StatusRequest(_Body):
    status: str | None = Field(None, description="As in presence:update (a socket's own state such as IDLE is refused)")
    customStatus: CustomStatus | None = Field(None, description="null clears it; left out keeps it")


class UserCounts(_Body):
    online: int
    byStatus: dict[str, int]


class InstanceStats(_Body):
    id: str
    sockets: int
    startedAt: str | None


class Stats(_Body):
    users: UserCounts
    sockets: int
    instances: list[InstanceStats]


class Change(_Body):
    id: str = Field(description="The stream entry's id: pass the last one as `after`")
    userId: str
    status: str
    previous: str
    devices: dict[str, str]
    customStatus: CustomStatus | None
    seq: int
    timestamp: str


class Changes(_Body):
    changes: list[Change] = Field(description="Oldest first; empty when nothing is newer")
    next: str = Field(description="The id to pass as `after` for the next page")


class WebhookEvent(Change):
    """The body of each webhook POST, signed in ``Presence-Signature``."""

    type: Literal["presence.changed"]


class Health(_Body):
    status: str


class Readiness(BaseModel):
    """Open to the checks the deployment has (presence, Redis's instances, …)."""

    model_config = ConfigDict(extra="allow")
    status: str
    database: str
    queuedWrites: int
    rejectedWrites: int


class LoopLag(BaseModel):
    """The event loop's lag figures, in ms (``process/loop_lag.py``)."""

    model_config = ConfigDict(extra="allow")
