"""Named counters on Redis, for the client keys' limits (server/limits.py).

    {p}:counter:{name}   string  an integer, with the counter's own expiry (PEXPIRE, set when it is created)

`CountersOnRedis` gives the Redis store its `add_counters` and `read_counters`; while Redis is down,
each instance counts on its own (the store's local copy). An `add` is one Lua script: INCRBY each
counter, give a new one its lifetime, and answer the values with their remaining lifetimes, so every
instance increments the same number atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

from babelgate.store.base import Counter, Increment
from babelgate.store.memory import MemoryStore
from babelgate.store.redis_link import RedisLink

# KEYS: the counters; ARGV: amount and lifetime (ms) of each, in turn. Answers value and remaining ms of each.
_ADD = """
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('INCRBY', key, ARGV[2 * i - 1])
  local left = redis.call('PTTL', key)
  if left < 0 then
    left = tonumber(ARGV[2 * i])
    redis.call('PEXPIRE', key, left)
  end
  out[2 * i - 1] = value
  out[2 * i] = left
end
return out
"""


class RedisCounters:
    def __init__(self, client: Redis, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._script = client.register_script(_ADD)
        self._prefix = prefix
        self._clock = clock

    async def add(self, r: Redis, increments: list[Increment]) -> list[Counter]:
        keys = [self._key(name) for name, _, _ in increments]
        args: list[int] = []
        for _, amount, ttl in increments:
            args += [amount, max(1, round(ttl * 1000))]
        answer = await self._script(keys=keys, args=args, client=r)
        now = self._clock()
        return [Counter(int(answer[i]), now + int(answer[i + 1]) / 1000) for i in range(0, len(answer), 2)]

    async def read(self, r: Redis, names: list[str]) -> list[Counter]:
        async with r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.get(self._key(name))
                pipe.pttl(self._key(name))
            answer = await pipe.execute()
        now = self._clock()
        out = []
        for value, left in zip(answer[::2], answer[1::2], strict=True):
            out.append(Counter(0, 0.0) if value is None or int(left) == -2 else Counter(int(value), now + max(0, int(left)) / 1000))
        return out

    def _key(self, name: str) -> str:
        return f"{self._prefix}:counter:{name}"


class CountersOnRedis:
    """The `Store` counter methods of store/redis.py::RedisStore, which sets these three attributes."""

    link: RedisLink
    local: MemoryStore
    _counters: RedisCounters

    async def add_counters(self, increments: list[Increment]) -> list[Counter]:
        return await self.link.read(lambda r: self._counters.add(r, increments), lambda: self.local.add_counters(increments))

    async def read_counters(self, names: list[str]) -> list[Counter]:
        return await self.link.read(lambda r: self._counters.read(r, names), lambda: self.local.read_counters(names))
