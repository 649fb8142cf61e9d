"""The clock of one upstream exchange, and reads that keep to it and to a size.

A `Clock` starts when a request is sent. Before the first byte reaches the client, everything
(the pooled connection, connecting, the response headers, an error body, a stream up to its first
event) must be done by `first_byte_at`; a whole answer's body, then, by `total_at` with no gap
longer than `idle`. A stream after its first event has no gap longer than `idle` and ends by
`total_at` (providers/stream.py). A limit that runs out raises `LimitReached`, whose message names
the config key, so the user knows what to raise.

One timer per read: `asyncio.timeout_at` around the body's `readany()`, which a timeout cancels
without losing buffered bytes.
"""

from __future__ import annotations

import asyncio

import aiohttp

from babelgate.config_upstream import MB, Limits
from babelgate.providers.transport import Content


class LimitReached(Exception):
    """An upstream exchange ran into one of its limits; `key` names it (`timeouts.idle`, `max_response_mb`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class Clock:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        now = self.loop.time()
        self.first_byte_at = min(now + limits.first_byte, now + limits.total)
        self.total_at = now + limits.total

    def next_read(self, since: float | None = None) -> tuple[float, str]:
        """When the next read must have returned (counting silence from `since`, default now), and which limit that is."""
        idle_at = (self.loop.time() if since is None else since) + self.limits.idle
        return (idle_at, "idle") if idle_at < self.total_at else (self.total_at, "total")

    def expired(self, which: str) -> LimitReached:
        seconds = getattr(self.limits, which)
        if which == "idle":
            return LimitReached("timeouts.idle", f"sent nothing for {seconds:g} s (timeouts.idle)")
        if which == "total":
            return LimitReached("timeouts.total", f"was not done within {seconds:g} s (timeouts.total)")
        return LimitReached("timeouts.first_byte", f"sent no answer within {seconds:g} s (timeouts.first_byte)")


def too_large(limit: int, what: str, key: str) -> LimitReached:
    return LimitReached(key, f"sent {what} over {limit / MB:g} MB ({key})")


async def read_body(content: Content, limit: int, clock: Clock | None) -> tuple[bytes, bool]:
    """At most `limit` bytes of a body, and whether there was more (left unread). With a `clock`, each
    read that has to wait keeps to its idle and total limits; without, the caller's own deadline bounds
    the reads. What has already arrived is taken without a timer (a small body comes with its headers)."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = content.read_nowait()
        if not chunk:
            if content.at_eof():
                break
            chunk = await _read(content, clock)
            if not chunk:
                break
        parts.append(chunk)
        size += len(chunk)
    body = parts[0] if len(parts) == 1 else b"".join(parts)
    return (body, False) if size <= limit else (body[:limit], True)


async def _read(content: Content, clock: Clock | None) -> bytes:
    if clock is None:
        return await content.readany()
    deadline, which = clock.next_read()
    try:
        async with asyncio.timeout_at(deadline):
            return await content.readany()
    except TimeoutError as error:
        if isinstance(error, aiohttp.ServerTimeoutError):
            raise
        raise clock.expired(which) from None
