"""Counting a request's input tokens (`count_tokens`, Gemini `countTokens`, Bedrock `CountTokens`).

The model is routed as a request would be (aliases, globs, fallback chains), and the count is the
best that can be had quickly, in this order:

1. the upstream's own counting endpoint (Anthropic `/v1/messages/count_tokens`, Gemini
   `:countTokens`, OpenAI `/v1/responses/input_tokens`, Bedrock `CountTokens`), asked of the
   first target with a credential that is not cooling, once, within providers/http.py's
   COUNT_TIMEOUT. A failed count cools nothing down: counting is not serving;
2. the offline tokenizer (tokens.offline_count) for that target's family;
3. the character estimate (tokens.estimate), when tiktoken is not installed.

No HTTP here: the upstream objects do it, as for `route`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from babelgate import tokens
from babelgate.call import Call
from babelgate.errors import UpstreamError
from babelgate.providers.base import Attempt
from babelgate.routing.router import Router

log = logging.getLogger("babelgate.routing")
Method = Literal["upstream", "tokenizer", "estimate"]


@dataclass(frozen=True, slots=True)
class Count:
    tokens: int
    method: Method


async def count_input_tokens(router: Router, call: Call) -> Count:
    """The request's input tokens for the model it names; an unknown model raises the router's 404."""
    targets, _ = router.resolver.resolve(call.request.model)
    family = "anthropic"
    for target in targets:
        upstream = router.upstreams[target.provider]
        dialect = upstream.dialect_for(target.model)
        family = tokens.family_of(dialect.name)
        order = router.pool.order(upstream.credentials, router.strategy(upstream))
        credential = next((c for c in order if router.book.blocked(c.id, target.model) is None), None)
        if credential is None:
            continue
        raw = call.raw if call.inbound.name == dialect.name else None
        attempt = Attempt(call.request, target.model, credential, call.headers, raw)
        call.served = attempt  # for the request's log line
        try:
            counted = await upstream.count_tokens(attempt)
        except UpstreamError as error:
            log.info("%s could not count tokens (%s): counted offline", attempt.target, error.message[:200])
            counted = None
        if counted is not None:
            return Count(counted, "upstream")
        break  # one upstream is asked at most: a count is wanted quickly
    offline = await asyncio.to_thread(tokens.offline_count, call.request, family)
    if offline is not None:
        return Count(offline, "tokenizer")
    return Count(tokens.estimate(call.request), "estimate")
