"""The registry's own rules, each tested by a declaration that breaks it; and what the
shipped statuses do through the state machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from presence_gateway.adapters.status_declarations import load_registry
from presence_gateway.domain.errors import InvalidStatuses, StatusNotChoosable, UnknownStatus
from presence_gateway.domain.presence import Choice, Transition, UserState, decide
from presence_gateway.domain.statuses import BUILTIN_STATUSES, Decay, Status, StatusRegistry, default_registry

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


OFFLINE_ITSELF = [s for s in BUILTIN_STATUSES if s.name != "OFFLINE"]


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ([*OFFLINE_ITSELF, Status("OFFLINE", online=True)], "OFFLINE must be offline"),
        ([*OFFLINE_ITSELF, Status("OFFLINE", online=False, seen_as="INVISIBLE")], "OFFLINE must be offline"),
        ([*OFFLINE_ITSELF, Status("OFFLINE", online=False, decay=Decay(60, "IDLE"))], "OFFLINE must be offline"),
        ([*BUILTIN_STATUSES, Status("")], "1 to 64 printable characters"),
        ([*BUILTIN_STATUSES, Status("L" * 65)], "1 to 64 printable characters"),
        ([*BUILTIN_STATUSES, Status("A\nB")], "1 to 64 printable characters"),
        ([*BUILTIN_STATUSES, Status("SHY", seen_as="INVISIBLE", online=False)], "which is itself seen as OFFLINE"),
        ([*BUILTIN_STATUSES, Status("GHOST", seen_as="OFFLINE", online=True)], "does not agree on counting as online"),
        ([*BUILTIN_STATUSES, Status("BUSY", seen_as="DND", online=False)], "does not agree on counting as online"),
        ([*BUILTIN_STATUSES, Status("AWAY", decay=Decay(60, "GONE"))], "decays to GONE, which is not declared"),
        ([*BUILTIN_STATUSES, Status("AWAY", decay=Decay(0, "IDLE"))], "it must be positive"),
        ([*BUILTIN_STATUSES, Status("AWAY", decay=Decay(-1, "IDLE"))], "it must be positive"),
        (
            [*BUILTIN_STATUSES, Status("A", decay=Decay(60, "B")), Status("B", decay=Decay(60, "A"))],
            "its decay cycles (A -> B -> A)",
        ),
        (
            [
                *BUILTIN_STATUSES,
                Status("A", decay=Decay(60, "B")),
                Status("B", decay=Decay(60, "C")),
                Status("C", decay=Decay(60, "B")),
            ],
            "its decay cycles (A -> B -> C -> B)",
        ),
        ([*BUILTIN_STATUSES, Status("LOOP", decay=Decay(60, "LOOP"))], "its decay cycles (LOOP -> LOOP)"),
    ],
    ids=[
        "offline-online", "offline-seen-as-another", "offline-decays", "empty-name", "long-name", "unprintable-name",
        "seen-as-chain", "hidden-yet-online", "shown-yet-offline", "unknown-decay-target", "zero-decay",
        "negative-decay", "decay-cycle", "decay-cycle-further-on", "decay-to-itself",
    ],
)
def test_a_declaration_the_state_machine_cannot_serve_is_refused(declared: list[Status], message: str) -> None:
    """The rules ``decide`` relies on, each broken once: a registry that breaks one is
    never built, so no test need re-check them over the registries that were."""
    with pytest.raises(InvalidStatuses) as refused:
        StatusRegistry(declared)
    assert message in str(refused.value)


def shipped_statuses(where=lambda registry, name: True) -> list:
    """Each status of the registries that ship: the built-ins, and the example statuses file
    standing for those a team declares. The tests over them guard that data through
    ``decide`` (the registry's rules are tested above, by refusal)."""
    registries = {"builtin": REGISTRY, "file": load_registry(EXAMPLE_FILE, plugins=[])}
    return [
        pytest.param(r, name, id=f"{kind}-{name}")
        for kind, r in registries.items()
        for name in r
        if where(r, name)
    ]


@pytest.mark.parametrize(("registry", "name"), shipped_statuses())
def test_every_shipped_status_reaches_offline_when_the_last_session_ends(registry: StatusRegistry, name: str) -> None:
    status = registry[name]
    choice = Choice(name, status.remembered)
    transition = Transition(UserState(1, choice), UserState(0, choice if status.remembered else None))
    outcome = decide(registry, "u", transition, 0.0)
    public_after = outcome.change.public if outcome.change else registry.public_name(name)
    assert public_after == "OFFLINE"


@pytest.mark.parametrize(("registry", "name"), shipped_statuses(lambda r, n: r[n].choosable))
def test_a_shipped_choosable_status_is_what_its_user_then_sees(registry: StatusRegistry, name: str) -> None:
    status = registry[name]
    if status.scope == "socket":  # a socket's own state, not a choice
        after = UserState(1, socket_states=(("web", name),))
    else:
        after = UserState(1, Choice(name, status.remembered), socket_states=(("web", "ONLINE"),))
    outcome = decide(registry, "u", Transition(UserState(1, socket_states=(("web", "ONLINE"),)), after), 0.0)
    own = outcome.change.status if outcome.change else "ONLINE"
    assert own == name
