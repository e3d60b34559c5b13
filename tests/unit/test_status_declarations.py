"""Declaring statuses in a file (or a plugin): what loads, and every mistake refused by name."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from presence_gateway.adapters.status_declarations import load_registry
from presence_gateway.domain.errors import InvalidStatuses
from presence_gateway.domain.statuses import Decay

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "statuses.toml"


def registry_from(tmp_path: Path, text: str):
    path = tmp_path / "statuses.toml"
    path.write_text(text)
    return load_registry(path, plugins=[])


def test_the_example_file_adds_its_statuses_to_the_builtins() -> None:
    registry = load_registry(EXAMPLE, plugins=[])

    assert list(registry) == ["ONLINE", "OFFLINE", "IDLE", "DND", "INVISIBLE", "STREAMING", "IN_CALL", "AWAY"]
    assert registry["STREAMING"].public_name == "STREAMING" and registry["STREAMING"].online
    assert not registry["IN_CALL"].remembered
    assert not registry["AWAY"].choosable
    assert registry["IDLE"].decay == Decay(600.0, "AWAY")


def test_no_file_means_the_builtins() -> None:
    assert set(load_registry(None, plugins=[])) == {"ONLINE", "OFFLINE", "IDLE", "DND", "INVISIBLE"}


def test_a_status_seen_as_another_counts_as_online_like_it_unless_told(tmp_path: Path) -> None:
    registry = registry_from(tmp_path, '[[status]]\nname = "GHOST"\nseen_as = "OFFLINE"\n')

    assert registry["GHOST"].public_name == "OFFLINE"
    assert not registry["GHOST"].online


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[status]]\nname = "AWAY"\n[[status]]\nname = "AWAY"\n', "AWAY is declared twice"),
        ('[[status]]\nname = "DND"\n', "DND clashes with a built-in"),
        ('[[status]]\nname = "X"\nseen_as = "NOWHERE"\n', "X is seen as NOWHERE, which is not declared"),
        ('[[status]]\nname = "A"\nseen_as = "INVISIBLE"\n', "name the final status"),
        ('[[status]]\nname = "X"\nseen_as = "OFFLINE"\nonline = true\n', "does not agree on counting as online"),
        ('[[status]]\nname = "X"\ndecay = { after = "1m", to = "Y" }\n', "decays to Y, which is not declared"),
        (
            '[[status]]\nname = "A"\ndecay = { after = "1m", to = "B" }\n'
            '[[status]]\nname = "B"\ndecay = { after = "1m", to = "A" }\n',
            "cannot reach OFFLINE: its decay cycles (A -> B -> A)",
        ),
        (
            '[[decay]]\nstatus = "OFFLINE"\nafter = "1m"\nto = "IDLE"\n',
            "OFFLINE must be offline, seen as itself, and never decay",
        ),
        ('[[status]]\nname = "X"\ndecay = { after = "soon", to = "IDLE" }\n', "decay after 'soon' is not a duration"),
        ('[[status]]\nname = "X"\nseen_As = "OFFLINE"\n', "unknown key 'seen_As'"),
        ('[[status]]\nname = "X"\nchoosable = "yes"\n', "choosable must be true or false"),
        ('[[status]]\nchoosable = true\n', "a status needs a name"),
        ('[[status]]\nname = "' + "L" * 65 + '"\n', "1 to 64 printable characters"),
        ('[[decay]]\nstatus = "NOPE"\nafter = "1m"\nto = "IDLE"\n', "decays 'NOPE', which is not declared"),
        (
            '[[decay]]\nstatus = "IDLE"\nafter = "1m"\nto = "DND"\n[[decay]]\nstatus = "IDLE"\nafter = "2m"\nto = "DND"\n',
            "IDLE already decays",
        ),
        ("[status]\nname = 'X'\n", "status must be a list of tables"),
        ("[[status]\n", "statuses.toml"),
        ('[[status]]\nname = "X"\nscope = "device"\n', "scope must be one of 'user', 'socket'"),
        ('[[status]]\nname = "X"\nscope = "socket"\nseen_as = "DND"\n', "a socket's own state must be"),
        ('[[status]]\nname = "X"\nscope = "socket"\nonline = false\n', "a socket's own state must be"),
    ],
    ids=[
        "duplicate", "clash-with-builtin", "unknown-seen-as", "seen-as-chain", "online-disagrees", "unknown-decay-target",
        "decay-cycle", "offline-decays", "bad-duration", "unknown-key", "not-a-bool", "no-name", "long-name",
        "decay-of-unknown", "double-decay", "not-a-list", "not-toml", "unknown-scope", "socket-seen-as-another",
        "socket-not-online",
    ],
)
def test_a_bad_declaration_is_refused_with_a_message_naming_it(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidStatuses) as refused:
        registry_from(tmp_path, text)
    assert message in str(refused.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidStatuses, match="no such file"):
        load_registry(tmp_path / "absent.toml", plugins=[])


def test_a_plugin_declares_statuses_through_an_entry_point(tmp_path: Path) -> None:
    plugin = EntryPoint(name="streaming", value=f"{__name__}:plugin_statuses", group="presence_gateway.statuses")

    registry = load_registry(None, plugins=[plugin])

    assert registry["LIVE"].choosable and registry["DND"].decay == Decay(3600.0, "IDLE")


def test_a_plugin_and_the_file_may_not_declare_the_same_status(tmp_path: Path) -> None:
    plugin = EntryPoint(name="streaming", value=f"{__name__}:plugin_statuses", group="presence_gateway.statuses")
    path = tmp_path / "statuses.toml"
    path.write_text('[[status]]\nname = "LIVE"\n')

    with pytest.raises(InvalidStatuses, match="LIVE is declared twice"):
        load_registry(path, plugins=[plugin])


def plugin_statuses() -> dict:
    return {"status": [{"name": "LIVE"}], "decay": [{"status": "DND", "after": "1h", "to": "IDLE"}]}


def test_idle_is_a_socket_state_and_a_team_may_declare_another(tmp_path: Path) -> None:
    registry = registry_from(tmp_path, '[[status]]\nname = "AFK"\nscope = "socket"\n[[status]]\nname = "FOCUS"\n')
    assert registry["IDLE"].scope == "socket"
    assert registry["AFK"].scope == "socket"
    assert registry["FOCUS"].scope == "user"
    assert registry.socket_states() == ["IDLE", "AFK"]
