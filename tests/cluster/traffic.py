"""Client traffic for the cluster tests: Chat Completions requests over aiohttp (so a test sees which
instance HAProxy chose, and how a stream ended), and waits on conditions with deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from tests.fakes.upstream import FakeUpstream

INSTANCE = "X-Babelgate-Instance"  # set by deploy/haproxy.cfg
TIMEOUT = aiohttp.ClientTimeout(total=30)  # no client waits forever, whatever the cluster does


@dataclass
class Answer:
    status: int
    instance: str  # the HAProxy server name, "" when sent to an instance directly
    text: str = ""
    complete: bool = True  # a stream: ended with [DONE]
    error: str = ""  # a stream cut off: what the client saw
    started: asyncio.Event = field(default_factory=asyncio.Event)  # a stream: its first event arrived


def body(provider: str, text: str, stream: bool = False, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
    messages = [*(history or []), {"role": "user", "content": text}]
    return {"model": f"{provider}/gpt-5", "messages": messages, "stream": stream}


async def chat(session: aiohttp.ClientSession, base: str, payload: dict[str, Any], answer: Answer | None = None) -> Answer:
    """One request; a stream is read to its end. `answer` (given) is filled in as it goes."""
    answer = answer or Answer(0, "")
    async with session.post(f"{base}/v1/chat/completions", json=payload, timeout=TIMEOUT) as response:
        answer.status, answer.instance = response.status, response.headers.get(INSTANCE, "")
        if not payload.get("stream"):
            data = await response.json()
            answer.text = data["choices"][0]["message"]["content"] if response.status == 200 else str(data)
            return answer
        answer.complete = False
        try:
            async for line in response.content:
                if line.startswith(b"data: [DONE]"):
                    answer.complete = True
                elif line.startswith(b"data: "):
                    event = orjson.loads(line[6:])
                    answer.text += "".join(c["delta"].get("content") or "" for c in event.get("choices", []))
                    answer.started.set()
        except aiohttp.ClientError as error:
            answer.error = f"{type(error).__name__}: {error}"
    return answer


def keys_used(upstream: FakeUpstream, provider: str, since: int = 0) -> list[str]:
    """The keys the fake saw for `provider`, in order, from request number `since` on."""
    keys = [r.headers.get("authorization", "").removeprefix("Bearer ") for r in upstream.received[since:]]
    return [k for k in keys if k.startswith(f"{provider}-")]


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        await asyncio.sleep(0.02)  # polling a condition with a deadline


async def cooldowns(session: aiohttp.ClientSession, base: str, credential: str) -> list[dict[str, Any]]:
    """What an instance's /account-limits says of a credential's cooldowns."""
    admin = {"Authorization": "Bearer cluster-admin-key-0123"}  # tests/cluster/conftest.py ADMIN_KEY
    async with session.get(f"{base}/account-limits", timeout=TIMEOUT, headers=admin) as response:
        providers = (await response.json())["providers"]
    found: list[dict[str, Any]] = next(c["cooldowns"] for p in providers for c in p["credentials"] if c["id"] == credential)
    return found
