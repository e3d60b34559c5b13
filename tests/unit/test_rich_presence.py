"""Rich presence rules: device states and the status they add up to, what others see of
them, the custom status a user sets, and the version that only grows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from presence_gateway.domain.devices import device_kind
from presence_gateway.domain.errors import InvalidDevice, InvalidPayload
from presence_gateway.domain.presence import PresenceChanged
from presence_gateway.domain.rich_presence import (
    CustomStatus,
    custom_status_seen,
    device_states,
    devices_seen,
    next_seq,
    parse_custom_status,
    parse_timestamp,
    shown_status,
)
from presence_gateway.domain.statuses import BUILTIN_STATUSES, Status, StatusRegistry, default_registry

REGISTRY = default_registry()
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()

# Each device's sockets: none, one active, one idle. (web, mobile) → device states, and
# the status a user who chose nothing (or ONLINE, or sent IDLE) is shown in.
ABSENT, ACTIVE, IDLE_SOCKET = (), ("ONLINE",), ("IDLE",)
DEVICE_TABLE = [
    (ACTIVE, ABSENT, {"web": "ONLINE"}, "ONLINE"),
    (IDLE_SOCKET, ABSENT, {"web": "IDLE"}, "IDLE"),
    (ABSENT, ACTIVE, {"mobile": "ONLINE"}, "ONLINE"),
    (ABSENT, IDLE_SOCKET, {"mobile": "IDLE"}, "IDLE"),
    (ACTIVE, ACTIVE, {"web": "ONLINE", "mobile": "ONLINE"}, "ONLINE"),
    (ACTIVE, IDLE_SOCKET, {"web": "ONLINE", "mobile": "IDLE"}, "ONLINE"),
    (IDLE_SOCKET, ACTIVE, {"web": "IDLE", "mobile": "ONLINE"}, "ONLINE"),
    (IDLE_SOCKET, IDLE_SOCKET, {"web": "IDLE", "mobile": "IDLE"}, "IDLE"),
]
# The chosen status → the status shown (None: follow the devices), and whether others
# see the devices.
CHOICE_TABLE = [
    (None, None, True),
    ("ONLINE", None, True),
    ("IDLE", None, True),  # a remembered IDLE from before scopes: the sockets decide
    ("DND", "DND", True),
    ("INVISIBLE", "INVISIBLE", False),
    ("OFFLINE", "OFFLINE", False),
]


def _sockets(web: tuple[str, ...], mobile: tuple[str, ...]) -> list[tuple[str, str]]:
    return [("web", state) for state in web] + [("mobile", state) for state in mobile]


def test_the_tables_cover_every_builtin_status() -> None:
    assert {chosen for chosen, _, _ in CHOICE_TABLE} - {None} == {s.name for s in BUILTIN_STATUSES}


@pytest.mark.parametrize(("web", "mobile", "devices", "follows"), DEVICE_TABLE)
@pytest.mark.parametrize(("chosen", "shown", "visible"), CHOICE_TABLE)
def test_devices_and_choice_give_the_status_everybody_sees(
    web: tuple[str, ...],
    mobile: tuple[str, ...],
    devices: dict[str, str],
    follows: str,
    chosen: str | None,
    shown: str | None,
    visible: bool,
) -> None:
    states = device_states(REGISTRY, _sockets(web, mobile))
    assert states == devices
    status = shown_status(REGISTRY, chosen, states)
    assert status == (shown or follows)
    public = REGISTRY.public_name(status)
    assert devices_seen(REGISTRY, public, states) == (devices if visible else {})


def test_one_active_socket_of_a_device_keeps_it_online() -> None:
    states = device_states(REGISTRY, [("web", "IDLE"), ("web", "ONLINE"), ("web", "IDLE")])
    assert states == {"web": "ONLINE"}


def test_a_device_in_several_socket_states_shows_the_first_declared() -> None:
    registry = StatusRegistry([*BUILTIN_STATUSES, Status("AFK", scope="socket")])
    states = device_states(registry, [("web", "AFK"), ("web", "IDLE")])
    assert states == {"web": "IDLE"}
    assert shown_status(registry, None, {"web": "AFK", "mobile": "IDLE"}) == "IDLE"


def test_a_team_status_of_user_scope_wins_over_the_devices() -> None:
    registry = StatusRegistry([*BUILTIN_STATUSES, Status("STREAMING")])
    assert shown_status(registry, "STREAMING", {"web": "IDLE"}) == "STREAMING"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(None, "web"), ("web", "web"), ("Mobile", "mobile"), ("desktop", "desktop"), ("tv_2-b", "tv_2-b"), ("x" * 32, "x" * 32)],
)
def test_a_device_kind_is_lower_cased_and_web_by_default(raw: object, kind: str) -> None:
    assert device_kind(raw) == kind


@pytest.mark.parametrize("raw", ["", "x" * 33, "we b", "web:1", "wéb", "{web}", 7, ["web"], "web\n"])
def test_an_invalid_device_kind_is_refused(raw: object) -> None:
    with pytest.raises(InvalidDevice, match="invalid device"):
        device_kind(raw)


def test_a_custom_status_is_read_with_its_expiry() -> None:
    custom = parse_custom_status({"text": "in a meeting", "emoji": "📅", "expiresAt": "2026-12-07T12:30:00.000Z"}, NOW)
    assert custom == CustomStatus("in a meeting", "📅", NOW + 1800)
    assert not custom.expired(NOW + 1799) and custom.expired(NOW + 1800)
    assert parse_custom_status({"text": "lunch"}, NOW) == CustomStatus("lunch")
    assert parse_custom_status(None, NOW) is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("lunch", "customStatus"),
        ({}, "customStatus.text"),
        ({"text": ""}, "customStatus.text"),
        ({"text": "x" * 129}, "customStatus.text"),
        ({"text": "a\x00b"}, "customStatus.text"),
        ({"text": "ok", "emoji": ""}, "customStatus.emoji"),
        ({"text": "ok", "emoji": "x" * 33}, "customStatus.emoji"),
        ({"text": "ok", "expiresAt": "tomorrow"}, "customStatus.expiresAt"),
        ({"text": "ok", "expiresAt": "2026-12-07T13:00:00"}, "customStatus.expiresAt"),
        ({"text": "ok", "expiresAt": "2026-12-07T13:00:00+01:00"}, "customStatus.expiresAt"),
        ({"text": "ok", "expiresAt": "2026-12-07T12:00:00Z"}, "customStatus.expiresAt"),
        ({"text": "ok", "expiresAt": 1800}, "customStatus.expiresAt"),
        ({"text": "ok", "expiresAt": "2027-02-29T12:00:00Z"}, "customStatus.expiresAt"),
        ({"text": "ok", "expiresAt": "2027-01-01T24:00:00Z"}, "customStatus.expiresAt"),
        ({"text": "ok", "colour": "red"}, "customStatus has an unknown key"),
    ],
)
def test_a_bad_custom_status_is_refused_naming_the_field(raw: object, field: str) -> None:
    with pytest.raises(InvalidPayload, match=field.replace(".", r"\.")):
        parse_custom_status(raw, NOW)


@pytest.mark.parametrize(
    "text",
    ["2026-12-07T12:30:00Z", "2026-12-07T12:30:00.5+00:00", "2028-02-29T00:00:00.123456Z", "1999-12-31T23:59:59Z"],
)
def test_a_timestamp_is_read_as_python_reads_it(text: str) -> None:
    assert parse_timestamp(text, "t") == datetime.fromisoformat(text).timestamp()


def test_the_custom_status_is_hidden_from_others_while_not_seen_online() -> None:
    custom = CustomStatus("lunch")
    assert custom_status_seen(REGISTRY, "DND", custom) == custom
    assert custom_status_seen(REGISTRY, REGISTRY.public_name("INVISIBLE"), custom) is None
    assert custom_status_seen(REGISTRY, "OFFLINE", custom) is None


def test_seq_grows_and_never_falls_below_the_clock() -> None:
    assert next_seq(0, NOW) == int(NOW * 1000)
    assert next_seq(int(NOW * 1000) + 5, NOW) == int(NOW * 1000) + 6
    # A store that forgot the last seq (an empty Redis restored) still goes forward.
    last = next_seq(next_seq(0, NOW), NOW)
    assert next_seq(0, NOW + 0.01) > last


def test_watchers_are_told_when_devices_or_custom_status_change_alone() -> None:
    same = PresenceChanged("u1", "ONLINE", "ONLINE", "ONLINE", "ONLINE", NOW, 1, {"web": "ONLINE"}, None, {"web": "ONLINE"})
    assert not same.public_changed
    devices = PresenceChanged("u1", "ONLINE", "ONLINE", "ONLINE", "ONLINE", NOW, 2, {"web": "IDLE", "mobile": "ONLINE"})
    assert devices.public_changed
    custom = PresenceChanged("u1", "ONLINE", "ONLINE", "ONLINE", "ONLINE", NOW, 3, custom_status=CustomStatus("x"))
    assert custom.public_changed
