"""The declarative request fixes of OpenAI-compatible providers (providers/quirks.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from babelgate import ir
from babelgate.config import ConfigError, ProviderConfig, parse
from babelgate.providers.quirks import Quirks, openrouter_reasoning, short_id
from tests.conftest import GatewayFactory
from tests.fakes.openai_compat import FakeCerebras, FakeMistral
from tests.fakes.upstream import Reply
from tests.providers.compat_support import KEY, openai_client, preset_provider


def test_short_ids_are_nine_letters_and_digits_and_stable() -> None:
    ids = {short_id(f"toolu_{n:04d}") for n in range(2000)}
    assert len(ids) == 2000  # no collisions among these
    assert all(len(i) == 9 and i.isascii() and i.isalnum() for i in ids)
    assert short_id("toolu_0001") == short_id("toolu_0001")
    assert short_id("D681PevKs") == "D681PevKs"  # already Mistral's form


def test_fixes_copy_what_they_change() -> None:
    quirks = Quirks.of(
        ProviderConfig(
            base_url="http://x",
            drop_fields=["user", "messages[].name"],
            rename_fields={"seed": "random_seed", "messages[].reasoning_content": "reasoning"},
            tool_call_ids="alnum9",
        )
    )
    message: dict[str, Any] = {
        "role": "assistant",
        "name": "a",
        "reasoning_content": "r",
        "tool_calls": [{"id": "call_1", "type": "function"}],
    }
    raw: dict[str, Any] = {"model": "m", "user": "u", "seed": 3, "random_seed": 9, "messages": [message]}
    body = dict(raw)
    quirks.apply(body, ir.Request("m", []))
    assert body == {
        "model": "m",
        "random_seed": 9,  # a name already there is kept
        "messages": [{"role": "assistant", "reasoning": "r", "tool_calls": [{"id": short_id("call_1"), "type": "function"}]}],
    }
    assert raw["messages"][0] is message and message["name"] == "a" and message["tool_calls"][0]["id"] == "call_1"


@pytest.mark.parametrize(
    ("reasoning", "effort", "expected"),
    [
        (ir.Reasoning(budget=4096), "medium", {"max_tokens": 4096}),
        (ir.Reasoning(effort="max"), "high", {"effort": "xhigh"}),
        (ir.Reasoning(effort="none", budget=0), "none", {"effort": "none"}),
        (None, "low", {"effort": "low"}),
    ],
)
def test_openrouter_reasoning(reasoning: ir.Reasoning | None, effort: str, expected: dict[str, Any]) -> None:
    assert openrouter_reasoning(reasoning, effort) == expected


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"drop_fields": ["messages[].tool_calls[].id"]}, "'messages[].tool_calls[].id' is not a request field"),
        ({"rename_fields": {"seed": "messages[].seed"}}, "'messages[].seed' is not a field name"),
        ({"tool_call_ids": "short"}, "providers.p.tool_call_ids"),
        ({"reasoning_field": "thinking"}, "providers.p.reasoning_field"),
    ],
)
def test_bad_settings_name_their_key(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"providers": {"p": {"base_url": "http://127.0.0.1:1/v1", **settings}}})
    assert complaint in str(caught.value)


def test_a_preset_fills_in_what_the_provider_leaves_out() -> None:
    providers = parse(
        {
            "providers": {
                "mistral": {"preset": "mistral", "api_keys": ["k"]},
                "mine": {"preset": "mistral", "base_url": "http://127.0.0.1:9/v1", "drop_fields": [], "tool_call_ids": "any"},
                "router": {"preset": "openrouter", "headers": {"X-Title": "My App", "HTTP-Referer": "", "X-Extra": "1"}},
            }
        }
    ).providers
    assert providers["mistral"].base_url == "https://api.mistral.ai/v1" and providers["mistral"].tool_call_ids == "alnum9"
    assert "stream_options" in providers["mistral"].drop_fields and providers["mistral"].rename_fields["seed"] == "random_seed"
    assert providers["mine"].drop_fields == [] and providers["mine"].tool_call_ids == "any"  # the config's own keys win
    assert providers["mine"].rename_fields == {"seed": "random_seed", "max_completion_tokens": "max_tokens"}
    assert providers["router"].headers == {"X-Title": "My App", "X-Extra": "1"}  # merged; "" leaves one out
    assert providers["router"].reasoning_field == "reasoning"


def test_an_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"providers": {"x": {"preset": "mistrall", "base_url": "http://127.0.0.1:9/v1"}}})
    assert "providers.x.preset: unknown preset 'mistrall'; expected one of 'anthropic', 'openai'" in str(caught.value)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[FakeMistral, FakeCerebras]]:
    mistral, cerebras = await FakeMistral([KEY]).start(), await FakeCerebras([KEY]).start()
    yield mistral, cerebras
    await mistral.stop()
    await cerebras.stop()


async def test_a_fallback_gets_the_clients_body_as_it_came(pair: tuple[FakeMistral, FakeCerebras], gateway_factory: GatewayFactory) -> None:
    mistral, cerebras = pair
    providers = {"mistral": preset_provider("mistral", mistral), "cerebras": preset_provider("cerebras", cerebras)}
    gw = await gateway_factory({"providers": providers, "aliases": {"chat": ["mistral/mistral-large-latest", "cerebras/gpt-oss-120b"]}})
    mistral.push(Reply(503, {"object": "error", "message": "Service unavailable", "type": "service_unavailable", "code": "1100"}))
    messages: Any = [{"role": "user", "content": "hi", "name": "bob"}]
    completion = await openai_client(gw.url).chat.completions.create(model="chat", messages=messages, seed=5)
    assert completion.choices[0].message.content == "Hello!"
    assert "name" not in mistral.received[-1].body["messages"][0] and mistral.received[-1].body["random_seed"] == 5
    assert cerebras.received[-1].body["messages"][0]["name"] == "bob" and cerebras.received[-1].body["seed"] == 5
