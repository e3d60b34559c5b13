"""The Dockerfile and compose.yaml cannot be run here (no container engine), so what they
must hold is checked against the load-balancer test that does run: the same HAProxy file
and variables, the same settings for the instances behind it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.e2e.test_load_balancer import BEHIND_PROXY, HAPROXY_CONFIG, HAProxy

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_the_tested_topology_with_the_tested_settings() -> None:
    services = _compose()["services"]
    haproxy = services["haproxy"]
    proxy_address = haproxy["networks"]["default"]["ipv4_address"]

    assert {"redis", "postgres", "gw1", "gw2", "haproxy"} <= set(services)
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    read = set(re.findall(r"\$\{(\w+)\}", HAPROXY_CONFIG.read_text()))
    assert read == set(haproxy["environment"]) == set(HAProxy.settings(1, [2, 3]))
    assert haproxy["environment"]["GATEWAY_1"] == "gw1:3000" and haproxy["environment"]["GATEWAY_2"] == "gw2:3000"
    for name in ("gw1", "gw2"):
        env = services[name]["environment"]
        expected = {**BEHIND_PROXY, "PRESENCE_TRUSTED_PROXIES": proxy_address}
        assert {key: env.get(key) for key in expected} == expected
        assert env["REDIS_URL"].startswith("redis://redis:") and env["DATABASE_URL"].startswith("postgresql://")
        assert env["PRESENCE_INSTANCE_ID"] == name
        assert services[name]["build"] == "."
    assert services["migrate"]["command"] == ["presence-gateway", "db", "upgrade"]


def test_the_image_is_slim_unprivileged_health_checked_and_stopped_by_sigterm() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]

    assert re.fullmatch(r"FROM python:3\.\d+-slim", instructions[0])
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    health = " ".join(lines[lines.index(next(line for line in lines if line.startswith("HEALTHCHECK"))):][:2])
    assert "/healthz" in health
    assert "STOPSIGNAL SIGTERM" in instructions
    assert instructions[-1] == 'CMD ["presence-gateway", "serve"]'
