"""docs/server-api.md's receiver, run as written: it accepts what the gateway signs and
refuses a tampered body, another secret and a timestamp older than 5 minutes."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from presence_gateway.service_layer.webhooks import signature

DOC = Path(__file__).resolve().parents[2] / "docs" / "server-api.md"
SECRET = "whsec-" + "d" * 32


def receiver(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (source,) = [block for block in blocks if "def verified" in block]
    monkeypatch.setenv("PRESENCE_WEBHOOK_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(compile(source.replace("web.run_app(", "(lambda *a, **k: None)("), str(DOC), "exec"), namespace)
    return namespace


def test_the_documented_receiver_accepts_the_gateways_signature_and_refuses_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified = receiver(monkeypatch)["verified"]
    body = b'{"id":"1-0","type":"presence.changed","seq":1}'
    now = int(time.time())

    assert verified(signature(SECRET, now, body), body)
    assert verified(signature(SECRET, now - 290, body), body)
    assert not verified(signature(SECRET, now - 310, body), body)  # older than 5 minutes
    assert not verified(signature(SECRET, now, body), body.replace(b"1}", b"2}"))
    assert not verified(signature("another", now, body), body)
    assert not verified("", body) and not verified("t=abc,v1=00", body)
