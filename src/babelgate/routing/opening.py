"""A served stream whose opening is already with the client, and which another upstream may still continue.

An upstream stream counts as served once its first event arrives (providers/stream.py primes to
it), and that event, usually the opening (`Start`: Anthropic's `message_start`, the first OpenAI
chunk), goes to the client at once, with the response headers and any pings after it. Until the
first content event nothing the client cannot take twice has been sent, so a failure before it
(an error event, a broken connection, silence past `timeouts.idle`) is an attempt that failed like
any other: it is recorded (cooldown, `call.failures`) and the attempt loop goes on to its next
candidate, whose stream continues the same client stream. The client dialect's renderer owns the
opening: the next upstream's own `Start` is dropped, and from then on its events are rendered
(`call.continued`), even where the first upstream's bytes were passed through. Nothing left to try:
the stream ends with the error event the client's dialect has for it.

A stream that reached content breaks as before: no failover, the dialect's error event, and the
break counts against the credential (`Router.stream_ended`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

from babelgate import ir
from babelgate.call import Call
from babelgate.errors import GatewayError, Kind, UpstreamError
from babelgate.providers.base import Attempt, Chunk, Outcome, Reply
from babelgate.providers.classify import classify

STATUS_OF = {Kind.RATE_LIMIT.value: 429, Kind.OVERLOADED.value: 529}  # an error event's kind, as the status it stands for


class Loop(Outcome, Protocol):
    """What the attempt loop offers a stream it served (routing/router.py)."""

    def _failed(self, call: Call, attempt: Attempt, error: UpstreamError) -> None: ...


class _Held:
    """The served attempt's outcome while no content has arrived: a break then is a failover, not a break."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.content = False

    def stream_ended(self, attempt: Attempt, broke: str | None) -> None:
        if self.content or broke is None:
            self.loop.stream_ended(attempt, broke)


def continued(loop: Loop, call: Call, first: Reply, more: AsyncGenerator[Reply]) -> Reply:
    """`first` (a stream), which the next replies of `more` may continue until its first content event."""
    legs = _Legs(first)
    return Reply(first.passthrough, chunks=_chunks(loop, call, legs, more), release=legs.release)


class _Legs:
    def __init__(self, first: Reply) -> None:
        self.current = first

    def release(self) -> None:
        self.current.release()


def _failure(error: ir.StreamError, attempt: Attempt) -> UpstreamError:
    status = STATUS_OF.get(error.kind, 502)
    message = f"{attempt.credential.provider} stream failed before any content: {error.message}"
    return UpstreamError(attempt.credential.provider, status, message, failure=classify(status, {}, None, message))


def _before_content(events: list[ir.Event], held: _Held) -> ir.StreamError | None:
    """The error that ends the stream before its first content event, if any; marks content as seen."""
    for event in events:
        if isinstance(event, ir.StreamError):
            return event
        if not isinstance(event, ir.Start):
            held.content = True
            return None
    return None


async def _chunks(loop: Loop, call: Call, legs: _Legs, more: AsyncGenerator[Reply]) -> AsyncIterator[Chunk]:
    try:
        while True:
            attempt, chunks = call.served, legs.current.chunks
            assert attempt is not None and chunks is not None, "a continued reply is a served stream"
            held = _Held(loop)
            attempt.outcome = held
            failed: ir.StreamError | None = None
            async for chunk, events in chunks:
                if not held.content and (failed := _before_content(events, held)) is not None:
                    break
                if call.continued:
                    events = [e for e in events if not isinstance(e, ir.Start)]
                yield chunk, events
            if failed is None:
                return
            await _close(chunks)
            legs.release()
            try:
                loop._failed(call, attempt, _failure(failed, attempt))
                legs.current = await anext(more)
            except (GatewayError, StopAsyncIteration) as error:
                yield b"", [_last_words(error, failed)]
                return
            call.continued = True
    finally:
        await more.aclose()


def _last_words(error: BaseException, failed: ir.StreamError) -> ir.StreamError:
    if isinstance(error, GatewayError):
        return ir.StreamError(error.kind.value, error.message)
    return failed


async def _close(chunks: AsyncIterator[Chunk]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()
