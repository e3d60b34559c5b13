"""Service keys: parsed from PRESENCE_API_KEYS (and its file) with the secret never in a
message, refused short in production, and matched in constant time against every key."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest

from presence_gateway.domain.errors import InvalidToken, MissingToken
from presence_gateway.entrypoints.wiring.service_keys import configured_keys, service_keys
from presence_gateway.entrypoints.wiring.settings import ConfigError, load_settings
from presence_gateway.service_layer.service_keys import ServiceKeys

LONG = "s" * 40


def keys_of(env: dict[str, str]) -> list[tuple[str, str]]:
    return configured_keys(load_settings(env))


def test_keys_are_name_secret_pairs_and_the_file_adds_its_own(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    file.write_text("# the billing service\nbilling:" + "b" * 32 + "\n\n")

    keys = keys_of({"PRESENCE_API_KEYS": f" chat:{LONG} , ops:{'o' * 33}", "PRESENCE_API_KEYS_FILE": str(file)})

    assert keys == [("chat", LONG), ("ops", "o" * 33), ("billing", "b" * 32)]


def test_no_key_means_the_server_api_is_off() -> None:
    assert service_keys(load_settings({})) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("chat", "has no secret"),
        ("chat:", "has no secret"),
        ("bad name:hunter2hunter2", "1-64 letters"),
        ("chat:hunter2hunter2,chat:other-secret-value", "given twice"),
    ],
)
def test_a_malformed_entry_is_refused_without_showing_a_secret(value: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        keys_of({"PRESENCE_API_KEYS": value})

    assert says in str(refused.value)
    assert "hunter2" not in str(refused.value) and "other-secret" not in str(refused.value)


def test_a_name_given_in_the_variable_and_the_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    file.write_text(f"chat:{LONG}x\n")

    with pytest.raises(ConfigError, match="given twice"):
        keys_of({"PRESENCE_API_KEYS": f"chat:{LONG}", "PRESENCE_API_KEYS_FILE": str(file)})


def test_production_refuses_a_secret_under_32_characters_by_its_name() -> None:
    short = "x" * 31
    with pytest.raises(ConfigError) as refused:
        keys_of({"PRESENCE_ENV": "production", "JWT_SECRET_ACCESS": "j" * 64, "PRESENCE_API_KEYS": f"chat:{short}"})

    assert "'chat'" in str(refused.value) and short not in str(refused.value)
    assert keys_of({"PRESENCE_API_KEYS": f"chat:{short}"}) == [("chat", short)]  # development takes it


def test_a_presented_secret_is_named_by_its_key_and_anything_else_refused() -> None:
    keys = ServiceKeys([("chat", LONG), ("ops", "o" * 40)])

    assert keys.name_of(LONG) == "chat"
    assert keys.name_of("o" * 40) == "ops"
    for wrong in (LONG[:-1], LONG + "s", "O" * 40):
        with pytest.raises(InvalidToken):
            keys.name_of(wrong)
    for missing in (None, ""):
        with pytest.raises(MissingToken):
            keys.name_of(missing)
    assert keys.is_key(LONG) and not keys.is_key("a user's token") and not keys.is_key(None)


def test_every_key_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the first key matching costs as many comparisons as none matching,
    each between digests of one length."""
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    keys = ServiceKeys([("a", "1" * 32), ("b", "2" * 64), ("c", "3" * 33)])

    keys.name_of("1" * 32)
    first = list(compared)
    compared.clear()
    with pytest.raises(InvalidToken):
        keys.name_of("nothing like any")

    assert len(first) == len(compared) == 3
    assert {pair for pair in first + compared} == {(32, 32)}
