"""Reading an upstream stream: bytes, cut into frames by the provider's framing, parsed into ir events.

`prime()` reads up to the first real event, so a stream that fails before any output raises a
classified error while the attempt loop can still fail over. After that, `chunks()` yields the
upstream's bytes with their events; a broken connection or an unreadable frame becomes one
`StreamError` (on a chunk of empty bytes: the gateway's own words) and parsing stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp

from babelgate import ir
from babelgate.dialects.base import StreamParser
from babelgate.errors import Kind
from babelgate.providers.framing import Framing

log = logging.getLogger("babelgate.upstream")
PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError)
READ_ERRORS = (TimeoutError, aiohttp.ClientError)
Chunk = tuple[bytes, list[ir.Event]]


def reason(error: BaseException) -> str:
    """A short human reason for a network or parse failure."""
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


class StreamReader:
    def __init__(self, provider: str, content: AsyncIterator[bytes], framing: Framing, parser: StreamParser) -> None:
        self._provider = provider
        self._content = content
        self._framing = framing
        self._parser = parser
        self._broken = False
        self._ended = False

    async def prime(self) -> list[Chunk]:
        """Everything up to and including the first event that is not a `Start`.

        Raises `TimeoutError` or `aiohttp.ClientError` when the connection fails first."""
        head: list[Chunk] = []
        while not self._ended and not any(not isinstance(e, ir.Start) for _, events in head for e in events):
            try:
                chunk = await self._content.__anext__()
            except StopAsyncIteration:
                self._ended = True
                head.append((b"", self._end()))
            else:
                head.append((chunk, self._parse(chunk)))
        return head

    async def chunks(self, head: list[Chunk]) -> AsyncIterator[Chunk]:
        for item in head:
            yield item
        if self._ended:
            return
        try:
            async for chunk in self._content:
                yield chunk, self._parse(chunk)
            tail = self._end()
        except READ_ERRORS as error:
            tail = [ir.StreamError(Kind.UPSTREAM.value, f"{self._provider} stream broke: {reason(error)}")]
        if tail:
            yield b"", tail

    def _parse(self, chunk: bytes) -> list[ir.Event]:
        if self._broken:
            return []
        try:
            return [event for data in self._framing.feed(chunk) for event in self._parser.frame(data)]
        except PARSE_ERRORS as error:
            return self._unreadable(error)

    def _end(self) -> list[ir.Event]:
        if self._broken:
            return []
        try:
            return [event for data in self._framing.flush() for event in self._parser.frame(data)] + self._parser.end()
        except PARSE_ERRORS as error:
            return self._unreadable(error)

    def _unreadable(self, error: Exception) -> list[ir.Event]:
        self._broken = True
        log.warning("unreadable stream from %s: %s", self._provider, reason(error))
        return [ir.StreamError(Kind.UPSTREAM.value, f"the upstream sent an unreadable stream event ({reason(error)})")]
