"""What the preset tests share: a provider built the way zero-config builds it, pointed at a fake, and the SDK clients."""

from __future__ import annotations

from typing import Any

import anthropic
import openai

from tests.fakes.openai_compat import StrictChat

KEY = "sk-preset-test-key-0042"
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def preset_provider(name: str, fake: StrictChat, **overrides: Any) -> dict[str, Any]:
    """A provider written `preset: name` (as zero-config builds them too), its base URL moved to the fake."""
    return {"preset": name, "api_keys": [KEY], "base_url": f"{fake.url}{fake.prefix}", "models": [fake.model], **overrides}


def gateway_config(name: str, provider: dict[str, Any]) -> dict[str, Any]:
    return {"providers": {name: provider}, "aliases": {"claude-*": f"{name}/{provider['models'][0]}"}, "routing": {"max_wait": 0}}


def anthropic_client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)


def openai_client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)


async def anthropic_ask(sdk: anthropic.AsyncAnthropic, stream: bool, **request: Any) -> anthropic.types.Message:
    if stream:
        async with sdk.messages.stream(**request) as events:
            return await events.get_final_message()
    return await sdk.messages.create(**request)


async def openai_ask(client: openai.AsyncOpenAI, stream: bool, **request: Any) -> tuple[str, str, Any]:
    """(content, reasoning the server sent under any name, usage) of a chat completion, streamed or not."""
    if not stream:
        completion = await client.chat.completions.create(**request)
        message = completion.choices[0].message
        extra = message.model_extra or {}
        return message.content or "", str(extra.get("reasoning") or extra.get("reasoning_content") or ""), completion.usage
    chunks = [c async for c in await client.chat.completions.create(stream=True, **request)]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    text = "".join(d.content or "" for d in deltas)
    reasoning = "".join(str((d.model_extra or {}).get("reasoning") or (d.model_extra or {}).get("reasoning_content") or "") for d in deltas)
    return text, reasoning, next((c.usage for c in chunks if c.usage), None)
