"""The device kind a socket names in ``auth.device``: stored as other services read it."""

from __future__ import annotations

import pytest

from presence_gateway.domain.devices import device_kind
from presence_gateway.domain.errors import InvalidDevice


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(None, "web"), ("ios", "ios"), ("IOS", "ios"), ("Desktop_App-2", "desktop_app-2"), ("a" * 32, "a" * 32)],
)
def test_a_kind_is_lower_cased_and_absent_means_web(raw: object, kind: str) -> None:
    assert device_kind(raw) == kind


@pytest.mark.parametrize(
    "raw",
    ["ios\nINFO forged\x1b[31m", "", "a" * 33, "ios tablet", "ios:1", "ï", 7, ["ios"], {"kind": "ios"}, True],
)
def test_anything_else_is_refused_whole(raw: object) -> None:
    with pytest.raises(InvalidDevice, match="invalid device"):
        device_kind(raw)
