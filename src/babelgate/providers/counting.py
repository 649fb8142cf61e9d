"""Asking an upstream to count a request's input tokens (its own counting endpoint), within a short timeout."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from babelgate.providers.base import Attempt, Outgoing
from babelgate.providers.stream import READ_ERRORS, reason

if TYPE_CHECKING:
    from babelgate.providers.http import HttpUpstream

COUNT_SECONDS = 5  # a count is a hint: past this, the offline count answers


@dataclass(frozen=True, slots=True)
class CountRequest:
    """Where an upstream counts a request's input tokens, the body it wants, and the answer's field that holds the count."""

    url: str
    body: dict[str, Any]
    field: str


async def ask_count(upstream: HttpUpstream, counting: CountRequest, attempt: Attempt) -> int:
    """The upstream's count; a refusal or a failure raises a classified UpstreamError."""
    outgoing = Outgoing("POST", counting.url, upstream.headers(attempt.client_headers), orjson.dumps(counting.body))
    await upstream.authenticate(outgoing, attempt.credential)
    try:
        sent = upstream.client.request("POST", outgoing.url, outgoing.headers, outgoing.body)
        async with asyncio.timeout(COUNT_SECONDS), await sent as response:
            if response.status >= 400:
                raise await upstream._error_reply(response, attempt.credential)
            answer: Any = orjson.loads(await response.read())
    except (*READ_ERRORS, OSError, ValueError) as error:
        raise upstream.error(0, f"{upstream.name} could not count tokens: {upstream.redact(reason(error), attempt.credential)}") from None
    value = answer.get(counting.field) if isinstance(answer, dict) else None
    if not isinstance(value, int):
        raise upstream.error(502, f"{upstream.name} answered a token count without {counting.field!r}")
    return value
