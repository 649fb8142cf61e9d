"""The store several instances share (`store: {type: redis, url: redis://...}`), on Redis or Valkey.

Keys, all under `store.prefix` (default `babelgate`), each bounded:

    {p}:cooldowns          hash  "credential␟model" → [reason, until|null, strikes, last_status]
                                 (expired entries are pruned when loaded, as SQLite does)
    {p}:binding:{session}  string [credential, expires], with the binding's own TTL
    {p}:usage:{day}        hash  "credential␟model␟r|i|o" → count, expiring USAGE_DAYS after the last write
    {p}:once:{id}          a replay guard of one usage write, expiring after ONCE_SECONDS
    {p}:credentials        hash  "provider␟name" → key (added with `babelgate accounts add`), encrypted (store/keys.py)
    {p}:reasoning:{key}    string, the signatures addon's cached reasoning state, with its own TTL
    {p}:counter:{name}     string an expiring count (store/redis_counters.py)
    {p}:changes            the pub/sub channel: every cooldown and binding change is published there

A change is written and published in one MULTI, so another instance hears of it as soon as it is
stored. Usage increments run as one Lua script that also applies the replay guard: a write that
Redis applied but whose answer was lost is replayed after an outage without counting twice.

Everything also lands in a local `MemoryStore`, which answers while Redis is down (see
store/redis_link.py). Adding a method: update `self.local`, then `self.link.write(op)` for a write
(publish a `Change` if other instances must hear of it) or `self.link.read(op, fallback)` for a read.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from babelgate.providers.classify import Reason
from babelgate.store.base import Changes, Entry, LoggedRequest, RequestFilter, Usage, apply_each
from babelgate.store.keys import KeyCipher
from babelgate.store.memory import MemoryStore
from babelgate.store.redis_counters import CountersOnRedis, RedisCounters
from babelgate.store.redis_link import RedisLink
from babelgate.store.redis_log import RedisRequestLog
from babelgate.store.shared import Change, Listener

SEP = "\x1f"  # the ASCII unit separator: in no credential id, model name or provider name
STALE_COOLDOWN = 86400.0  # expired cooldowns older than this are dropped when loading
USAGE_DAYS = 40  # a day's usage counters live this long after their last write
ONCE_SECONDS = 3600  # how long a usage write's replay guard lives

# KEYS: usage hash, replay guard; ARGV: field prefix, requests, input tokens, output tokens, hash TTL, guard TTL.
_ADD_USAGE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[6]) then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. 'r', ARGV[2])
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. 'i', ARGV[3])
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. 'o', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
"""
# KEYS: cooldowns hash; ARGV: "credential␟". Deletes every field of the credential.
_DELETE_CREDENTIAL = """
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #ARGV[1]) == ARGV[1] then redis.call('HDEL', KEYS[1], field) end
end
"""


class RedisStore(CountersOnRedis):  # the named counters: store/redis_counters.py
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "babelgate",
        timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
        cipher: KeyCipher | None = None,
    ) -> None:
        self.cipher = cipher or KeyCipher()  # keys added with `accounts add` are kept encrypted (store/keys.py)
        self.link = RedisLink(url, timeout)
        self.local = MemoryStore(clock)
        self._clock = clock
        self._prefix = prefix
        self._channel = f"{prefix}:changes"
        self._origin = uuid.uuid4().hex  # this instance, so it ignores its own messages
        self._listeners: list[Listener] = []
        self._add_usage = self.link.client.register_script(_ADD_USAGE)
        self._delete_credential = self.link.client.register_script(_DELETE_CREDENTIAL)
        self._log = RedisRequestLog(prefix)
        self._counters = RedisCounters(self.link.client, prefix, clock)

    async def apply(self, changes: Changes) -> None:
        """Each change as its own write: written at once while Redis answers, queued in order while it
        does not (store/redis_link.py), so a batch is never lost to an outage."""
        await apply_each(self, changes)

    # Cooldowns.

    async def load_cooldowns(self) -> list[Entry]:
        return await self.link.read(self._load_cooldowns, self.local.load_cooldowns)

    async def _load_cooldowns(self, r: Redis) -> list[Entry]:
        key = self._key("cooldowns")
        rows = _strings(await r.hgetall(key))
        stale_before = self._clock() - STALE_COOLDOWN
        entries, stale = [], []
        for field, value in rows.items():
            entry = _entry(field, value)
            if entry is not None and entry.until < stale_before:
                stale.append(field)
            elif entry is not None:
                entries.append(entry)
        if stale:
            await r.hdel(key, *stale)
        await self._adopt(entries)
        return entries

    async def _adopt(self, entries: list[Entry]) -> None:
        """Make Redis's cooldowns the local copy too, for the next outage."""
        keep = {(e.credential, e.model) for e in entries}
        for old in await self.local.load_cooldowns():
            if (old.credential, old.model) not in keep:
                await self.local.delete_cooldowns(old.credential, old.model)
        for entry in entries:
            await self.local.save_cooldown(entry)

    async def save_cooldown(self, entry: Entry) -> None:
        await self.local.save_cooldown(entry)
        until = entry.until if math.isfinite(entry.until) else None
        value = orjson.dumps([entry.reason.value, until, entry.strikes, entry.last_status]).decode()
        field = f"{entry.credential}{SEP}{entry.model}"

        async def op(r: Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.hset(self._key("cooldowns"), field, value)
                pipe.publish(self._channel, self._message(Change("cooldowns")))
                await pipe.execute()

        await self.link.write(op)

    async def delete_cooldowns(self, credential: str, model: str | None = None) -> None:
        await self.local.delete_cooldowns(credential, model)

        async def op(r: Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                if model is None:
                    await self._delete_credential(keys=[self._key("cooldowns")], args=[credential + SEP], client=pipe)
                else:
                    pipe.hdel(self._key("cooldowns"), f"{credential}{SEP}{model}")
                pipe.publish(self._channel, self._message(Change("cooldowns")))
                await pipe.execute()

        await self.link.write(op)

    # Session bindings.

    async def get_binding(self, session_key: str) -> str | None:
        async def op(r: Redis) -> str | None:
            raw = await r.get(self._key("binding", session_key))
            if raw is None:
                return None
            credential, expires = orjson.loads(raw)
            return str(credential) if expires > self._clock() else None

        return await self.link.read(op, lambda: self.local.get_binding(session_key))

    async def set_binding(self, session_key: str, credential: str, ttl: float) -> None:
        await self.local.set_binding(session_key, credential, ttl)
        value = orjson.dumps([credential, self._clock() + ttl]).decode()
        change = self._message(Change("binding", session_key, credential))

        async def op(r: Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.set(self._key("binding", session_key), value, ex=max(1, math.ceil(ttl)))
                pipe.publish(self._channel, change)
                await pipe.execute()

        await self.link.write(op)

    # Usage.

    async def add_usage(self, credential: str, model: str, day: str, requests: int, input_tokens: int, output_tokens: int) -> None:
        await self.local.add_usage(credential, model, day, requests, input_tokens, output_tokens)
        keys = [self._key("usage", day), self._key("once", uuid.uuid4().hex)]
        args: list[str | int] = [f"{credential}{SEP}{model}{SEP}", requests, input_tokens, output_tokens, USAGE_DAYS * 86400, ONCE_SECONDS]

        async def op(r: Redis) -> None:
            await self._add_usage(keys=keys, args=args, client=r)

        await self.link.write(op)

    async def usage_for_day(self, day: str) -> list[Usage]:
        async def op(r: Redis) -> list[Usage]:
            counts: dict[tuple[str, str], dict[str, int]] = {}
            for field, value in _strings(await r.hgetall(self._key("usage", day))).items():
                credential, model, kind = field.split(SEP)
                counts.setdefault((credential, model), {})[kind] = int(value)
            rows = [Usage(c, m, day, n.get("r", 0), n.get("i", 0), n.get("o", 0)) for (c, m), n in counts.items()]
            return sorted(rows, key=lambda row: (row.credential, row.model))

        return await self.link.read(op, lambda: self.local.usage_for_day(day))

    # Credentials added with `babelgate accounts add`.

    async def add_credential(self, provider: str, name: str, key: str) -> None:
        await self.local.add_credential(provider, name, key)

        async def op(r: Redis) -> None:
            await r.hset(self._key("credentials"), f"{provider}{SEP}{name}", self.cipher.encrypt(key))

        await self.link.write(op)

    async def remove_credential(self, provider: str, name: str) -> bool:
        removed = [await self.local.remove_credential(provider, name)]  # Redis's answer replaces it when it comes

        async def op(r: Redis) -> None:
            removed[0] = bool(await r.hdel(self._key("credentials"), f"{provider}{SEP}{name}"))

        await self.link.write(op)  # while Redis is down, queued like any write
        return removed[0]

    async def credentials(self) -> list[tuple[str, str, str]]:
        async def op(r: Redis) -> list[tuple[str, str, str]]:
            rows = _strings(await r.hgetall(self._key("credentials")))
            return sorted((field.split(SEP, 1)[0], field.split(SEP, 1)[-1], self.cipher.decrypt(key)) for field, key in rows.items())

        return await self.link.read(op, self.local.credentials)

    # The reasoning cache (addons/signatures.py): one string key per entry, with its own TTL.

    async def put_reasoning(self, entries: Mapping[str, str], ttl: float) -> None:
        await self.local.put_reasoning(entries, ttl)
        seconds = max(1, math.ceil(ttl))

        async def op(r: Redis) -> None:
            async with r.pipeline(transaction=False) as pipe:
                for key, value in entries.items():
                    pipe.set(self._key("reasoning", key), value, ex=seconds)
                await pipe.execute()

        await self.link.write(op)

    async def get_reasoning(self, keys: Sequence[str]) -> dict[str, str]:
        async def op(r: Redis) -> dict[str, str]:
            values = await r.mget([self._key("reasoning", key) for key in keys]) if keys else []
            return {key: str(value) for key, value in zip(keys, values, strict=True) if value is not None}

        return await self.link.read(op, lambda: self.local.get_reasoning(keys))

    # The request log (store/redis_log.py): not kept locally.

    async def log_requests(self, rows: list[LoggedRequest]) -> None:
        await self.link.write(lambda r: self._log.insert(r, rows))

    async def recent_requests(self, limit: int, where: RequestFilter) -> list[dict[str, Any]]:
        return await self.link.read(lambda r: self._log.recent(r, limit, where), _nothing_list)

    async def logged_request(self, request_id: str) -> LoggedRequest | None:
        return await self.link.read(lambda r: self._log.one(r, request_id), _nothing)

    async def prune_requests(self, older_than: float, max_bytes: int) -> None:
        await self.link.write(lambda r: self._log.prune(r, older_than, max_bytes))

    # Sharing (store/shared.py) and lifecycle.

    def watch(self, listener: Listener) -> None:
        self._listeners.append(listener)
        if len(self._listeners) == 1:
            self.link.reconnected.append(self._resync)
            self.link.subscribe(self._channel, self._heard, self._resync)

    def health(self) -> dict[str, Any]:
        return self.link.health()

    async def close(self) -> None:
        await self.link.close()

    def _heard(self, data: str) -> None:
        try:
            message = orjson.loads(data)
            if message.get("from") == self._origin:
                return
            change = Change(message["kind"], message.get("session", ""), message.get("credential", ""))
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
            return  # not ours (another program publishing on the channel)
        self._tell(change)

    def _resync(self) -> None:
        self._tell(Change("cooldowns"))

    def _tell(self, change: Change) -> None:
        for listener in self._listeners:
            listener(change)

    def _message(self, change: Change) -> str:
        body: dict[str, Any] = {"from": self._origin, "kind": change.kind}
        if change.kind == "binding":
            body.update(session=change.session, credential=change.credential)
        return orjson.dumps(body).decode()

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))


async def _nothing_list() -> list[dict[str, Any]]:
    return []


async def _nothing() -> None:
    return None


def _strings(rows: dict[Any, Any]) -> dict[str, str]:
    return {str(field): str(value) for field, value in rows.items()}


def _entry(field: str, value: str) -> Entry | None:
    try:
        credential, model = field.split(SEP)
        reason, until, strikes, last_status = orjson.loads(value)
        return Entry(credential, model, Reason(reason), math.inf if until is None else float(until), int(strikes), last_status)
    except (ValueError, TypeError):  # written by a newer version, or not by us: ignore
        return None
