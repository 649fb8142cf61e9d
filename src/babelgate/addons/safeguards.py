"""Auto mode on any model: Claude Code's `safeguards` answered by babelgate when the upstream cannot.

In auto mode Claude Code (2.1.278 and later) sends a top-level `safeguards` array on
`/v1/messages` (and the `dangerous-tool-use-…` beta) and reads `safeguard_results` back: a verdict
per `tool_use` id, top-level in a whole message, in the final `message_delta` of a stream.

- An Anthropic upstream serving the client's own body runs the check itself: the request and its
  answer pass through untouched.
- Any other upstream: with `addons: {safeguards: {classifier: provider/model}}`, that model judges
  each tool call of the reply (one request per reply, addons/safeguards_judge.py) and the verdicts
  go back as the Anthropic API sends them. Every reply carries them, with or without tool calls, so
  Claude Code keeps its check on the server, shows no notice, and makes no classifier requests of its own.
- No classifier and no Anthropic target: `400 invalid_request_error` naming `safeguards`, as
  Claude Code's gateway contract asks; Claude Code then retries without them and checks locally
  (in `-p --permission-mode auto` that means it refuses every action that needs the check).

Options: `classifier` (a model name the gateway routes, such as `openai/gpt-5-mini` or
`openai/gpt-5-mini(low)`), `timeout` (seconds for one verdict, 60), `max_tokens` (4096).
A verdict that cannot be had in time, or an unreadable answer, is "unavailable": Claude Code blocks that action.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from babelgate import ir
from babelgate.addons.base import Addon, Context
from babelgate.addons.safeguards_judge import judge_request, unavailable, verdicts
from babelgate.call import Call
from babelgate.config import ConfigError
from babelgate.errors import GatewayError, Kind
from babelgate.providers.base import Chunks, Reply

log = logging.getLogger("babelgate.addons.safeguards")
CHECK = "dangerous_tool_use"  # the one safeguard Claude Code asks for
RESULTS = "safeguard_results"
NOTE = "safeguards"  # the call's note: the client's safeguards entries
OPTIONS = {"classifier", "timeout", "max_tokens"}


def asked_for(call: Call) -> list[dict[str, Any]]:
    """The client's safeguards entries (only Anthropic Messages clients send them)."""
    entries = call.raw.get("safeguards") if call.raw is not None and call.inbound.name == "anthropic" else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


class Safeguards(Addon):
    name = "safeguards"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        options = context.options
        unknown = set(options) - OPTIONS
        if unknown:
            raise ConfigError(f"addons.safeguards: unknown option {sorted(unknown)[0]!r}; expected {', '.join(sorted(OPTIONS))}")
        classifier = options.get("classifier")
        if classifier is not None and not isinstance(classifier, str):
            raise ConfigError("addons.safeguards.classifier: expected a model name such as openai/gpt-5-mini")
        self.classifier: str | None = classifier
        self.timeout = float(options.get("timeout", 60))
        self.max_tokens = int(options.get("max_tokens", 4096))
        if classifier is not None and context.router is not None:
            try:
                context.router.resolver.resolve(classifier)
            except GatewayError as error:
                raise ConfigError(f"addons.safeguards.classifier: {error.message}") from None

    def request(self, call: Call) -> ir.Response | None:
        entries = asked_for(call)
        if not entries:
            return None
        call.notes[NOTE] = entries
        router = self.context.router
        if self.classifier is not None or router is None:
            return None
        targets, _ = router.plan(call)
        if any(router.upstreams[t.provider].dialect_for(t.model).name == "anthropic" for t in targets):
            return None  # the upstream answers them
        where = ", ".join(str(t) for t in targets)
        raise GatewayError(
            400,
            Kind.INVALID_REQUEST,
            f"safeguards: {call.request.model} is served by {where}, which cannot run auto mode's safety check, and this gateway "
            "has no classifier for it (addons.safeguards.classifier). Send the request without safeguards.",
        )

    async def reply(self, call: Call, reply: Reply) -> Reply:
        entries: list[dict[str, Any]] | None = call.notes.get(NOTE)
        if not entries or call.served is None or call.served.passthrough:
            return reply  # nothing asked, or the Anthropic upstream answered it
        if reply.chunks is None:
            if reply.response is not None:
                calls = [p for p in reply.response.parts if isinstance(p, ir.ToolCallPart)]
                reply.response.extra[RESULTS] = await self.results(call, entries, calls)
            return reply
        return Reply(reply.passthrough, chunks=self._judged(call, entries, reply.chunks), release=reply.release)

    async def _judged(self, call: Call, entries: list[dict[str, Any]], chunks: Chunks) -> AsyncIterator[tuple[bytes, list[ir.Event]]]:
        """The stream as it comes; its Finish waits for the verdicts on the tool calls before it."""
        snapshot = ir.Snapshot(ir.Response("", "", []))
        tools: set[int] = set()  # the block indexes of tool calls: only those are kept, never the text
        async for chunk, events in chunks:
            for event in events:
                if isinstance(event, ir.Finish):
                    calls = [p for p in snapshot.response.parts if isinstance(p, ir.ToolCallPart)]
                    event.extra[RESULTS] = await self.results(call, entries, calls)
                    continue
                if isinstance(event, ir.BlockStart) and event.kind == "tool_call":
                    tools.add(event.index)
                if isinstance(event, ir.BlockStart | ir.ToolArgsDelta | ir.BlockStop) and event.index in tools:
                    ir.accumulate(event, snapshot)
            yield chunk, events

    async def results(self, call: Call, entries: list[dict[str, Any]], calls: list[ir.ToolCallPart]) -> list[dict[str, Any]]:
        """One result per safeguard asked for, in the Anthropic API's shape."""
        out: list[dict[str, Any]] = []
        for entry in entries:
            kind = entry.get("type")
            if kind != CHECK or self.classifier is None:
                out.append({"type": kind, "status": {"type": "unsupported"}})
                continue
            tool_uses = await self._judge(call, entry.get("classifier_context"), calls) if calls else {}
            out.append({"type": CHECK, "status": {"type": "available", "tool_uses": tool_uses}})
        return out

    async def _judge(self, call: Call, context: Any, calls: list[ir.ToolCallPart]) -> dict[str, dict[str, Any]]:
        router = self.context.router
        assert router is not None and self.classifier is not None
        judge = Call(call.inbound, judge_request(self.classifier, call.request, context, calls, self.max_tokens), {})
        reply: Reply | None = None
        try:
            async with asyncio.timeout(self.timeout):
                reply = await router.route(judge)
                answer = await _text(reply)
        except TimeoutError:
            log.warning("safeguards: %s gave no verdict within %.0fs; the actions count as unavailable", self.classifier, self.timeout)
            return {c.id: unavailable("timeout") for c in calls}
        except GatewayError as error:
            log.warning("safeguards: %s could not judge: %s", self.classifier, error.message[:200])
            return {c.id: unavailable("error") for c in calls}
        finally:
            if reply is not None:
                reply.release()
        found = verdicts("".join(p.text for p in answer.parts if isinstance(p, ir.TextPart)), calls)
        if judge.served is not None:
            self.context.ledger.record(judge.served.credential, judge.served.model, answer.usage)
        flagged = sum(v.get("outcome") == "flagged" for v in found.values())
        judged_by = judge.served.target if judge.served else self.classifier
        log.info("safeguards: %s judged %d tool call(s), %d flagged", judged_by, len(calls), flagged)
        return found


async def _text(reply: Reply) -> ir.Response:
    """The classifier's answer, from a whole reply or a stream."""
    if reply.response is not None:
        response = reply.response
    else:
        snapshot = None
        assert reply.chunks is not None
        async for _, events in reply.chunks:
            for event in events:
                snapshot = ir.accumulate(event, snapshot)
        response = snapshot.response if snapshot is not None else ir.Response("", "", [])
    return response
