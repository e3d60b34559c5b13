"""The registry's own rules, and invariants that hold for every registered status."""

from __future__ import annotations

import pytest

from presence_gateway.domain.errors import StatusNotChoosable, UnknownStatus
from presence_gateway.domain.presence import Choice, Transition, UserState, decide
from presence_gateway.domain.statuses import BUILTIN_STATUSES, Status, StatusRegistry, default_registry

REGISTRY = default_registry()


def test_the_builtins_are_registered() -> None:
    assert set(REGISTRY) == {"ONLINE", "OFFLINE", "IDLE", "DND", "INVISIBLE"}


def test_a_name_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        StatusRegistry([*BUILTIN_STATUSES, Status("DND")])


def test_seen_as_must_name_a_declared_status() -> None:
    with pytest.raises(ValueError, match="not declared"):
        StatusRegistry([*BUILTIN_STATUSES, Status("GHOST", seen_as="NOWHERE")])


@pytest.mark.parametrize("missing", ["ONLINE", "OFFLINE"])
def test_online_and_offline_are_required(missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        StatusRegistry([s for s in BUILTIN_STATUSES if s.name != missing])


def test_choosable_tells_unknown_from_forbidden() -> None:
    registry = StatusRegistry([*BUILTIN_STATUSES, Status("BANNED", choosable=False, seen_as="OFFLINE")])
    assert registry.choosable("IDLE").name == "IDLE"
    with pytest.raises(UnknownStatus, match="one of ONLINE, OFFLINE, IDLE, DND, INVISIBLE"):
        registry.choosable("idle")
    with pytest.raises(StatusNotChoosable):
        registry.choosable("BANNED")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_status_is_seen_by_others_as_a_status_that_shows_itself(name: str) -> None:
    public = REGISTRY[REGISTRY.public_name(name)]
    assert public.public_name == public.name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_status_reaches_offline_when_the_last_session_ends(name: str) -> None:
    status = REGISTRY[name]
    choice = Choice(name, status.remembered)
    outcome = decide(REGISTRY, "u", Transition(UserState(1, choice), UserState(0, choice if status.remembered else None)), 0.0)
    public_after = outcome.change.public if outcome.change else REGISTRY.public_name(name)
    assert public_after == "OFFLINE"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_status_seen_as_offline_does_not_count_as_online(name: str) -> None:
    status = REGISTRY[name]
    if REGISTRY.public_name(name) == "OFFLINE":
        assert not status.online
