"""Reading an upstream stream: bytes, cut into frames by the provider's framing, parsed into ir events.

`prime()` reads up to the first event (the stream's opening, such as Anthropic's `message_start`, or
its first content), so a stream that fails before it raises a classified error while the attempt
loop can still fail over (the caller's `first_byte` deadline bounds it). The opening goes to the
client at once; until the first content event the attempt loop can still hand the client's stream
to another upstream (routing/opening.py). After that, `chunks()` yields the upstream's bytes with their events, keeping to the
exchange's `Clock`: no silence longer than `timeouts.idle`, done by `timeouts.total`. A broken
connection, a limit reached or an unreadable frame becomes one `StreamError` (on a chunk of empty
bytes: the gateway's own words) and reading stops.

While the upstream is silent, every `keepalive` seconds a `KEEPALIVE` chunk (empty bytes, no
events) tells the relay to send the client its dialect's ping. When the stream is over, `ended`
hears how: None for a clean end, else what broke it (the attempt loop counts breaks against the
credential). A stream the client abandons reports nothing.

A `Recode` turns the raw bytes into the framing's bytes first (Bedrock's InvokeModel stream is
Anthropic SSE inside AWS event-stream, providers/bedrock_invoke.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import aiohttp

from babelgate import ir
from babelgate.dialects.base import StreamParser
from babelgate.errors import Kind
from babelgate.providers.base import KEEPALIVE, Chunk
from babelgate.providers.deadline import Clock, LimitReached
from babelgate.providers.framing import Framing
from babelgate.providers.transport import Content
from babelgate.providers.wire import WireError

log = logging.getLogger("babelgate.upstream")
PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError)
CONNECTION_ERRORS = (aiohttp.ClientError, WireError)  # the connection failed (either client)
READ_ERRORS = (TimeoutError, *CONNECTION_ERRORS)


class Recode(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


def reason(error: BaseException) -> str:
    """A short human reason for a network or parse failure."""
    if isinstance(error, LimitReached):
        return error.message
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


def _ignore(broke: str | None) -> None:
    return None


class StreamReader:
    def __init__(self, provider: str, source: Content, framing: Framing, parser: StreamParser, recode: Recode | None = None) -> None:
        self._provider = provider
        self._source = source
        self._framing = framing
        self._parser = parser
        self._recode = recode
        self._broken = False
        self._ended = False
        self._broke: str | None = None  # the first error the stream carried
        self.clock: Clock | None = None  # set by the provider before `chunks()`
        self.ended: Callable[[str | None], None] = _ignore

    async def prime(self) -> list[Chunk]:
        """Everything up to and including the chunk with the first event (an opening `Start` is one).

        Raises `TimeoutError` or one of CONNECTION_ERRORS when the connection fails first."""
        head: list[Chunk] = []
        while not self._ended and not any(events for _, events in head):
            raw = await self._source.readany()
            if not raw:
                self._ended = True
                head.extend(self._last())
            elif chunk := self._recoded(raw):
                head.append((chunk, self._parse(chunk)))
        return head

    async def chunks(self, head: list[Chunk]) -> AsyncIterator[Chunk]:
        for item in head:
            yield item
        if self._ended:
            self.ended(self._broke)
            return
        tail: list[Chunk] = []
        try:
            async for chunk in self._rest():
                yield chunk
            tail = self._last()
        except (*READ_ERRORS, LimitReached) as error:
            message = f"{self._provider} stream broke: {reason(error)}"
            self._broke = self._broke or message
            tail = [(b"", [ir.StreamError(Kind.UPSTREAM.value, message)])]
        self.ended(self._broke)
        for item in tail:
            yield item

    async def _rest(self) -> AsyncIterator[Chunk]:
        """The chunks after the head, with keepalives in the silences; raises at a limit."""
        clock = self.clock
        assert clock is not None, "the provider sets the reader's clock"
        keepalive = clock.limits.keepalive
        loop = clock.loop
        last_byte = quiet_since = loop.time()
        source = self._source
        while True:
            raw = source.read_nowait()  # what has arrived already: no timer (a busy stream is read ahead)
            if not raw and not source.at_eof():
                deadline, which = clock.next_read(last_byte)
                wake = min(deadline, quiet_since + keepalive) if keepalive else deadline
                try:
                    async with asyncio.timeout_at(wake):
                        raw = await source.readany()
                except TimeoutError as error:
                    if isinstance(error, aiohttp.ServerTimeoutError) or wake >= deadline:
                        raise clock.expired(which) from None
                    quiet_since = loop.time()
                    yield KEEPALIVE
                    continue
            if not raw:
                return
            last_byte = quiet_since = loop.time()
            if chunk := self._recoded(raw):
                events = self._parse(chunk)
                if self._broken:  # an unreadable frame: its error in the gateway's words (never half a frame), and the end
                    yield b"", events
                    return
                yield chunk, events

    def _recoded(self, raw: bytes) -> bytes:
        return raw if self._recode is None else self._recode.feed(raw)

    def _last(self) -> list[Chunk]:
        """What the end of the stream means: a recoder's last bytes, then the parser's last events."""
        items: list[Chunk] = []
        if self._recode is not None and (chunk := self._recode.flush()):
            items.append((chunk, self._parse(chunk)))
        if events := self._end():
            items.append((b"", events))
        return items

    def _parse(self, chunk: bytes) -> list[ir.Event]:
        if self._broken:
            return []
        try:
            events = [event for data in self._framing.feed(chunk) for event in self._parser.frame(data)]
        except PARSE_ERRORS as error:
            return self._unreadable(error)
        self._note(events)
        return events

    def _end(self) -> list[ir.Event]:
        if self._broken:
            return []
        try:
            events = [event for data in self._framing.flush() for event in self._parser.frame(data)] + self._parser.end()
        except PARSE_ERRORS as error:
            return self._unreadable(error)
        self._note(events)
        return events

    def _note(self, events: list[ir.Event]) -> None:
        if self._broke is None and events and isinstance(events[-1], ir.StreamError):
            self._broke = f"{self._provider} stream failed: {events[-1].message}"

    def _unreadable(self, error: Exception) -> list[ir.Event]:
        self._broken = True
        log.warning("unreadable stream from %s: %s", self._provider, reason(error))
        message = f"the upstream sent an unreadable stream event ({reason(error)})"
        self._broke = self._broke or f"{self._provider}: {message}"
        return [ir.StreamError(Kind.UPSTREAM.value, message)]
