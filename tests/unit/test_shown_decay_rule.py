"""The rule that makes decay follow the shown status: a decay falls due exactly when the
user is shown a socket-scoped status because every socket is in one, and it is that
status's decay, counted from now."""

from __future__ import annotations

import itertools

import pytest

from presence_gateway.domain.rich_presence import ShownDecays, device_states, shown_status
from presence_gateway.domain.statuses import BUILTIN_STATUSES, Decay, Status, default_registry
from tests.support.statuses import idle_decays_to_away

NOW = 1_000.0


REGISTRY = idle_decays_to_away()
CHOSEN = [None, *(s.name for s in BUILTIN_STATUSES if s.scope == "user"), "AWAY"]
SOCKET = [None, "ONLINE", "IDLE"]  # absent, active, idle


@pytest.mark.parametrize(
    ("chosen", "web", "mobile"), list(itertools.product(CHOSEN, SOCKET, SOCKET)), ids=lambda v: str(v)
)
def test_a_decay_is_due_exactly_when_the_devices_show_idle(chosen, web, mobile) -> None:
    sockets = [(device, state) for device, state in (("web", web), ("mobile", mobile)) if state is not None]
    states = [state for _, state in sockets]

    due = ShownDecays.of(REGISTRY).due(chosen, states, NOW)

    shown_by_devices = bool(sockets) and shown_status(REGISTRY, chosen, device_states(REGISTRY, sockets)) == "IDLE"
    assert due == (("IDLE", NOW + 600.0) if shown_by_devices else None)


def test_an_idle_without_decay_never_falls_due() -> None:
    assert ShownDecays.of(default_registry()).due(None, ["IDLE", "IDLE"], NOW) is None


def test_the_first_declared_socket_status_present_is_the_one_that_decays() -> None:
    registry = idle_decays_to_away(Status("FOCUS", scope="socket", decay=Decay(60.0, "AWAY")))
    rule = ShownDecays.of(registry)

    assert rule.due(None, ["FOCUS", "IDLE"], NOW) == ("IDLE", NOW + 600.0)
    assert rule.due(None, ["FOCUS"], NOW) == ("FOCUS", NOW + 60.0)


def test_a_state_no_longer_declared_socket_scoped_is_active() -> None:
    rule = ShownDecays.of(REGISTRY)

    assert rule.active(["IDLE", "STREAMING"])
    assert not rule.active(["IDLE"])
    assert rule.due(None, ["IDLE", "STREAMING"], NOW) is None
