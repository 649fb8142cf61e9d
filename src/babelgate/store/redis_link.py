"""The Redis connection of `store/redis.py`: whether Redis is reachable, the writes waiting for it,
and the subscription that brings other instances' changes.

Every write goes through `write(op)`: run at once while Redis is up; when it fails (or Redis is
already known to be down) the op joins the outbox, and the reconnect task replays the outbox in
order as soon as a PING answers again. Reads go through `read(op, fallback)`: the fallback (the
store's local state) answers while Redis is down. So a request never waits on an absent Redis,
and nothing written during an outage is lost, up to `OUTBOX_LIMIT` ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

log = logging.getLogger("babelgate.store")
T = TypeVar("T")
Op = Callable[[Redis], Awaitable[object]]
OUTBOX_LIMIT = 100_000  # writes kept while Redis is down; past it the oldest are dropped (and counted)
RECONNECT_FIRST, RECONNECT_MAX = 0.05, 2.0  # seconds between PINGs while down (doubling)
LISTEN_SECONDS = 5.0  # one read of the subscription; a quiet channel just reads again


def redacted(url: str) -> str:
    """The URL without its password (`redis://user:***@host:6379/0`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisLink:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = redacted(url)
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), retries=1),  # a pooled connection Redis closed: one fresh try
            decode_responses=True,
        )
        self.up = True  # optimistic: the first command finds out
        self.down_since: float | None = None
        self.last_error = ""
        self.dropped = 0
        self.outbox: deque[Op] = deque()
        self.reconnected: list[Callable[[], None]] = []  # called after an outage, once the outbox is replayed
        self._up_event = asyncio.Event()
        self._up_event.set()
        self._reconnecting: asyncio.Task[None] | None = None
        self._listening: asyncio.Task[None] | None = None
        self._closed = False

    async def write(self, op: Op) -> None:
        if self.up:
            try:
                await op(self.client)
                return
            except (RedisError, OSError) as error:
                self.lost(error)
        self._queue(op)

    async def read(self, op: Callable[[Redis], Awaitable[T]], fallback: Callable[[], Awaitable[T]]) -> T:
        if self.up:
            try:
                return await op(self.client)
            except (RedisError, OSError) as error:
                self.lost(error)
        return await fallback()

    def lost(self, error: BaseException) -> None:
        """Redis stopped answering: serve on local state and start reconnecting."""
        self.last_error = f"{type(error).__name__}: {error}"[:300]
        if not self.up or self._closed:
            return
        self.up = False
        self._up_event.clear()
        self.down_since = time.time()
        log.warning("store: redis at %s unreachable (%s); serving on local state until it returns", self.url, self.last_error)
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    def subscribe(self, channel: str, on_message: Callable[[str], None], on_resubscribed: Callable[[], None]) -> None:
        """Call `on_message` with every message published on `channel` (resubscribing after an outage)."""
        if self._listening is None:
            self._listening = asyncio.get_running_loop().create_task(self._listen(channel, on_message, on_resubscribed))

    async def _listen(self, channel: str, on_message: Callable[[str], None], on_resubscribed: Callable[[], None]) -> None:
        subscribed_before = False
        while True:
            await self._up_event.wait()
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                if subscribed_before:
                    on_resubscribed()  # what was published meanwhile never reached us
                subscribed_before = True
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=LISTEN_SECONDS)
                    if message is not None and message.get("type") == "message":
                        on_message(str(message["data"]))
            except (RedisError, OSError) as error:
                self.lost(error)
                await asyncio.sleep(RECONNECT_FIRST)  # the subscription's own connection may be the only one broken
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {"type": "redis", "url": self.url, "state": "up" if self.up else "down"}
        if not self.up:
            report.update(down_since=self.down_since, last_error=self.last_error, pending_writes=len(self.outbox))
        if self.dropped:
            report["dropped_writes"] = self.dropped
        return report

    async def close(self) -> None:
        """Write what waits if Redis answers (one try), then close the connections."""
        self._closed = True
        for task in (self._reconnecting, self._listening):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.outbox:
            with contextlib.suppress(RedisError, OSError):
                await self._replay()
            if self.outbox:
                log.warning("store: %d writes not saved: redis at %s unreachable (%s)", len(self.outbox), self.url, self.last_error)
        await self.client.aclose()

    def _queue(self, op: Op) -> None:
        if len(self.outbox) >= OUTBOX_LIMIT:
            self.outbox.popleft()
            self.dropped += 1
        self.outbox.append(op)

    async def _replay(self) -> None:
        while self.outbox:  # ops queued while replaying join the end; the link is up only once it is empty
            await self.outbox[0](self.client)
            self.outbox.popleft()

    async def _reconnect(self) -> None:
        pause = RECONNECT_FIRST
        while True:
            await asyncio.sleep(pause)  # a backoff between attempts, not a wait for a condition
            pause = min(pause * 2, RECONNECT_MAX)
            try:
                await self.client.ping()
                replayed = len(self.outbox)
                await self._replay()
            except (RedisError, OSError) as error:
                self.last_error = f"{type(error).__name__}: {error}"[:300]
                continue
            break
        outage = time.time() - (self.down_since or time.time())
        self.up, self.down_since, self._reconnecting = True, None, None
        self._up_event.set()
        log.warning("store: redis at %s is back after %.1fs; replayed %d writes", self.url, outage, replayed)
        for callback in self.reconnected:
            callback()
