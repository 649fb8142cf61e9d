"""Writing a `Reply` to the client: rendered in the client's dialect, or passed through byte for byte.

Every event goes through the addons' `event` hook (every whole response through `response`)
before it is rendered. On the same-dialect path the upstream's bytes go out untouched; only
what the gateway says itself (a chunk of empty bytes, such as the error for a stream that
broke after the first byte) is rendered, as the dialect's own error event. The response headers
and the stream's opening go out as soon as the upstream sent its first event; when another
upstream continues a stream that failed before its content (routing/opening.py, `call.continued`),
everything after is rendered, and the renderer, which saw the opening either way, does not open twice.

While the upstream is silent the stream carries `KEEPALIVE` chunks (providers/stream.py): each
becomes the client dialect's ping where it has one (Anthropic's `ping` event; an SSE comment for
the OpenAI formats, whose SDKs skip comments), and nothing for Gemini, whose SDK reads every line
as JSON.

A `ClientFraming` re-frames a stream's bytes for clients that want another framing of the same
dialect: Bedrock's InvokeModelWithResponseStream wants Anthropic events in AWS event-stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Protocol

import orjson
from aiohttp import web

from babelgate import ir
from babelgate.addons.base import Addons
from babelgate.call import Call
from babelgate.providers.base import Chunks, Reply

PINGS = {"anthropic": b'event: ping\ndata: {"type": "ping"}\n\n', "openai": b": keepalive\n\n", "openai-responses": b": keepalive\n\n"}
HOLD_LIMIT = 1024 * 1024  # the most of one unfinished upstream event held back (WholeEvents)
TRANSCRIPT_LIMIT = 4 * 1024 * 1024  # a captured stream stops growing here (the observer caps it further)


class ClientFraming(Protocol):
    content_type: str

    def feed(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


async def relay(http: web.Request, call: Call, reply: Reply, addons: Addons, framing: ClientFraming | None = None) -> web.StreamResponse:
    try:
        if reply.chunks is None:
            return await _whole(call, reply, addons)
        return await _stream(http, call, reply.chunks, reply.passthrough, addons, framing)
    finally:
        reply.release()


async def _whole(call: Call, reply: Reply, addons: Addons) -> web.Response:
    response = reply.response
    assert response is not None, "a reply is a whole response or a stream"
    addons.response(call, response)
    call.usage = response.usage
    await addons.settle(call)
    if reply.passthrough:
        return web.Response(body=reply.body, content_type="application/json", headers=call.reply_headers)
    response.model = call.request.model
    body = orjson.dumps(call.inbound.render_response(response))
    return web.Response(body=body, content_type="application/json", headers=call.reply_headers)


async def _stream(
    http: web.Request, call: Call, chunks: Chunks, passthrough: bool, addons: Addons, framing: ClientFraming | None
) -> web.StreamResponse:
    renderer = call.inbound.stream_renderer(call.request)
    content_type = framing.content_type if framing else renderer.content_type
    out = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache", **call.reply_headers})
    await out.prepare(http)
    ping = PINGS.get(call.inbound.name, b"")
    whole = WholeEvents()
    settled = False
    async for chunk, events in chunks:
        content = ends = False
        for event in events:
            addons.event(call, event)
            if isinstance(event, ir.Start):
                if passthrough and not call.continued:
                    renderer.render(event)  # the renderer owns the opening, even one passed through
                continue
            content = True
            if isinstance(event, ir.Finish):
                call.usage = event.usage
                ends = True
            elif isinstance(event, ir.StreamError):
                ends = True
        if ends and not settled:
            settled = True
            await addons.settle(call)  # before the client sees the end and sends its next request
        if passthrough and chunk and not call.continued:
            data = whole.take(chunk)
        elif not chunk and not events:
            data = ping  # between whole events: the start of one is held back
        elif not passthrough or call.continued:
            whole.drop()
            data = b"".join([renderer.render(e) for e in events])
        else:  # what the gateway says itself on a passed-through stream: only its errors are rendered
            whole.drop()  # the start of an event the upstream never finished: not sent, so the error is readable
            data = b"".join([renderer.render(e) for e in events if isinstance(e, ir.StreamError)])
        if data and framing:
            data = framing.feed(data)
        if data:
            if call.first_byte is None and content:  # neither the opening nor a ping is the first token
                call.first_byte = time.perf_counter()
            if call.transcript is not None and len(call.transcript) < TRANSCRIPT_LIMIT:
                call.transcript += data
            await out.write(data)
    if not settled:
        await addons.settle(call)
    if rest := whole.take_rest():  # the upstream's last bytes, without their blank line: as they came
        if call.transcript is not None and len(call.transcript) < TRANSCRIPT_LIMIT:
            call.transcript += rest
        await out.write(framing.feed(rest) if framing else rest)
    if framing and (tail := framing.flush()):
        await out.write(tail)
    await out.write_eof()
    return out


class WholeEvents:
    """A passed-through SSE stream goes out in whole events: the start of one that a chunk cut is held
    until its end arrives, so a ping or an error the gateway writes never lands inside it (upstreams
    send whole events, so almost nothing is ever held; past HOLD_LIMIT it goes out as it is)."""

    def __init__(self) -> None:
        self._held = b""

    def take(self, chunk: bytes) -> bytes:
        data = self._held + chunk if self._held else chunk
        if data.endswith(b"\n\n"):
            self._held = b""
            return data
        lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\n\r\n")
        cut = max(lf + 2 if lf >= 0 else 0, crlf + 3 if crlf >= 0 else 0)
        if len(data) - cut > HOLD_LIMIT:
            cut = len(data)
        self._held = data[cut:]
        return data[:cut]

    def drop(self) -> None:
        self._held = b""

    def take_rest(self) -> bytes:
        rest, self._held = self._held, b""
        return rest


def canned(response: ir.Response, stream: bool) -> Reply:
    """A reply made of a response the gateway has itself (an addon's answer)."""
    if not stream:
        return Reply(False, response=response)
    return Reply(False, chunks=_all_at_once(ir.events_of(response)))


async def _all_at_once(events: list[ir.Event]) -> AsyncIterator[tuple[bytes, list[ir.Event]]]:
    yield b"", events
