"""The request log on Redis: one hash per request, a sorted set of ids by start time, a hash of sizes.

    {p}:req:{id}      hash  summary (JSON), request_body and response_body (base64); expiring after MAX_DAYS
    {p}:requests      zset  id → started (the order rows are listed and pruned in)
    {p}:reqsize       hash  id → bytes (what `max_bytes` retention counts)

The log is not kept locally: while Redis is down writes wait in the link's queue and reads find
nothing, which only the dashboard and `babelgate logs` notice.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from redis.asyncio import Redis

from babelgate.store.base import LoggedRequest, RequestFilter

MAX_DAYS = 90  # a row's hard expiry; observe.retention prunes sooner
PAGE = 500


class RedisRequestLog:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.index = f"{prefix}:requests"
        self.sizes = f"{prefix}:reqsize"

    def _row(self, request_id: str) -> str:
        return f"{self.prefix}:req:{request_id}"

    async def insert(self, r: Redis, rows: list[LoggedRequest]) -> None:
        async with r.pipeline(transaction=False) as pipe:
            for row in rows:
                fields: dict[str, bytes] = {"summary": orjson.dumps(row.summary)}
                for name, body in (("request_body", row.request_body), ("response_body", row.response_body)):
                    if body is not None:  # base64: the client decodes replies as text, and a capped body may end mid-character
                        fields[name] = base64.b64encode(body)
                pipe.hset(self._row(row.id), mapping=fields)  # type: ignore[arg-type]
                pipe.expire(self._row(row.id), MAX_DAYS * 86400)
                pipe.zadd(self.index, {row.id: row.started})
                pipe.hset(self.sizes, row.id, row.size)
            await pipe.execute()

    async def recent(self, r: Redis, limit: int, where: RequestFilter) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        high: Any = f"({where.before}" if where.before is not None else "+inf"
        low: Any = where.since if where.since is not None else "-inf"
        offset = 0
        while len(found) < limit:
            ids = _ids(await r.zrevrangebyscore(self.index, high, low, start=offset, num=PAGE))
            if not ids:
                break
            offset += len(ids)
            async with r.pipeline(transaction=False) as pipe:
                for request_id in ids:
                    pipe.hget(self._row(request_id), "summary")
                summaries = await pipe.execute()
            found += [s for s in (orjson.loads(raw) for raw in summaries if raw is not None) if where.matches(s)]
        return found[:limit]

    async def one(self, r: Redis, request_id: str) -> LoggedRequest | None:
        fields = await r.hgetall(self._row(request_id))
        if not fields:
            return None
        data: dict[str, Any] = {_text(k): v for k, v in fields.items()}
        summary = orjson.loads(data["summary"])
        bodies = [base64.b64decode(data[name]) if name in data else None for name in ("request_body", "response_body")]
        return LoggedRequest(summary["id"], summary["started"], summary, *bodies)

    async def prune(self, r: Redis, older_than: float, max_bytes: int) -> None:
        drop = _ids(await r.zrangebyscore(self.index, "-inf", f"({older_than}"))
        sizes: dict[str, int] = {_text(k): int(v) for k, v in (await r.hgetall(self.sizes)).items()}
        total = sum(sizes.values()) - sum(sizes.get(i, 0) for i in drop)
        if total > max_bytes:
            for request_id in _ids(await r.zrangebyscore(self.index, f"{older_than}", "+inf")):
                if total <= max_bytes:
                    break
                drop.append(request_id)
                total -= sizes.get(request_id, 0)
        for start in range(0, len(drop), PAGE):
            batch = drop[start : start + PAGE]
            async with r.pipeline(transaction=False) as pipe:
                pipe.delete(*(self._row(i) for i in batch))
                pipe.zrem(self.index, *batch)
                pipe.hdel(self.sizes, *batch)
                await pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ids(values: Any) -> list[str]:
    return [_text(v) for v in values]
