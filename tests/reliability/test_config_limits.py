"""The `upstream:` section and its per-provider overrides, as the config loads them."""

from __future__ import annotations

import pytest

from babelgate.config import ConfigError, parse
from babelgate.config_upstream import MB, Limits

BASE = {"type": "openai", "base_url": "http://127.0.0.1:9/v1"}


def limits(upstream: dict[str, object] | None = None, **provider: object) -> Limits:
    data: dict[str, object] = {"providers": {"p": {**BASE, **provider}}}
    if upstream is not None:
        data["upstream"] = upstream
    return parse(data).providers["p"].limits


def test_the_documented_defaults() -> None:
    assert limits() == Limits(10, 60, 60, 900, 256, 32 * MB, 16 * MB, 15)


def test_a_provider_overrides_any_key_and_keeps_the_rest() -> None:
    got = limits({"timeouts": {"first_byte": 20, "total": 300}, "max_connections": 64}, timeouts={"first_byte": 5}, max_response_mb=2)
    assert (got.connect, got.first_byte, got.idle, got.total) == (10, 5, 60, 300)
    assert got.max_connections == 64 and got.max_response_bytes == 2 * MB and got.keepalive == 15


def test_the_older_timeout_keys_still_work() -> None:
    got = limits(connect_timeout=3, read_timeout=7)  # read_timeout was the silence allowed before and between bytes
    assert (got.connect, got.first_byte, got.idle) == (3, 7, 7)


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({"read_timeout": 3, "timeouts": {"idle": 2}}, "providers.p: read_timeout is the older spelling of timeouts.idle"),
        ({"timeouts": {"frist_byte": 1}}, "providers.p.timeouts.frist_byte: Extra inputs are not permitted"),
        ({"timeouts": {"idle": 0}}, "providers.p.timeouts.idle: Input should be greater than 0"),
        ({"max_connections": 0}, "providers.p.max_connections: Input should be greater than or equal to 1"),
    ],
)
def test_bad_limits_name_their_key(provider: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        limits(**provider)
    assert message in str(caught.value)


def test_an_unknown_upstream_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"upstream\.max_conections: Extra inputs"):
        parse({"upstream": {"max_conections": 3}})
