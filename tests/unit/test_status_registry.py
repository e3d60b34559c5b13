"""The registry's own rules, and invariants that hold for every registered status."""

from __future__ import annotations

from pathlib import Path

import pytest

from presence_gateway.domain.errors import InvalidStatuses, StatusNotChoosable, UnknownStatus
from presence_gateway.domain.presence import Choice, Transition, UserState, decide
from presence_gateway.adapters.status_declarations import load_registry
from presence_gateway.domain.statuses import BUILTIN_STATUSES, Status, StatusRegistry, default_registry

REGISTRY = default_registry()
EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "examples" / "statuses.toml"


def test_the_builtins_are_registered() -> None:
    assert set(REGISTRY) == {"ONLINE", "OFFLINE", "IDLE", "DND", "INVISIBLE"}


def test_a_name_declared_twice_is_refused() -> None:
    with pytest.raises(InvalidStatuses, match="declared twice"):
        StatusRegistry([*BUILTIN_STATUSES, Status("DND")])


def test_seen_as_must_name_a_declared_status() -> None:
    with pytest.raises(ValueError, match="not declared"):
        StatusRegistry([*BUILTIN_STATUSES, Status("GHOST", seen_as="NOWHERE")])


@pytest.mark.parametrize("missing", ["ONLINE", "OFFLINE"])
def test_online_and_offline_are_required(missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        StatusRegistry([s for s in BUILTIN_STATUSES if s.name != missing])


def test_choosable_tells_unknown_from_forbidden() -> None:
    registry = StatusRegistry([*BUILTIN_STATUSES, Status("BANNED", choosable=False, seen_as="OFFLINE", online=False)])
    assert registry.choosable("IDLE").name == "IDLE"
    with pytest.raises(UnknownStatus, match="one of ONLINE, OFFLINE, IDLE, DND, INVISIBLE"):
        registry.choosable("idle")
    with pytest.raises(StatusNotChoosable):
        registry.choosable("BANNED")


def every_registered_status(where=lambda registry, name: True) -> list:
    """The invariants below hold for every status a gateway may serve: the built-ins and
    those a team declares (the example statuses file stands for them)."""
    registries = {"builtin": REGISTRY, "file": load_registry(EXAMPLE_FILE, plugins=[])}
    return [
        pytest.param(r, name, id=f"{kind}-{name}")
        for kind, r in registries.items()
        for name in r
        if where(r, name)
    ]


@pytest.mark.parametrize(("registry", "name"), every_registered_status())
def test_every_status_is_seen_by_others_as_a_status_that_shows_itself(registry: StatusRegistry, name: str) -> None:
    public = registry[registry.public_name(name)]
    assert public.public_name == public.name


@pytest.mark.parametrize(("registry", "name"), every_registered_status())
def test_every_status_reaches_offline_when_the_last_session_ends(registry: StatusRegistry, name: str) -> None:
    status = registry[name]
    choice = Choice(name, status.remembered)
    transition = Transition(UserState(1, choice), UserState(0, choice if status.remembered else None))
    outcome = decide(registry, "u", transition, 0.0)
    public_after = outcome.change.public if outcome.change else registry.public_name(name)
    assert public_after == "OFFLINE"


@pytest.mark.parametrize(("registry", "name"), every_registered_status(lambda r, n: r.public_name(n) == "OFFLINE"))
def test_a_status_seen_as_offline_does_not_count_as_online(registry: StatusRegistry, name: str) -> None:
    assert not registry[name].online


@pytest.mark.parametrize(("registry", "name"), every_registered_status())
def test_every_decay_ends_in_a_status_that_stays(registry: StatusRegistry, name: str) -> None:
    seen = {name}
    status = registry[name]
    while status.decay is not None:
        status = registry[status.decay.to]
        assert status.name not in seen
        seen.add(status.name)


@pytest.mark.parametrize(("registry", "name"), every_registered_status(lambda r, n: r[n].choosable))
def test_a_choosable_status_is_what_its_user_then_sees(registry: StatusRegistry, name: str) -> None:
    status = registry[name]
    outcome = decide(registry, "u", Transition(UserState(1), UserState(1, Choice(name, status.remembered))), 0.0)
    own = outcome.change.status if outcome.change else "ONLINE"
    assert own == name
