"""A reference point, not a gateway: the least an aiohttp server + aiohttp client relay can cost.

`python -m bench.refproxy --port P --upstream URL` forwards each request's bytes to the
fake upstream's Anthropic endpoint and relays the answer (streams chunk by chunk), with
no parsing, translation, routing or logging: the floor for babelgate's own stack (the
same aiohttp, uvloop and one pooled client session).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)


async def relay(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    session = request.app[SESSION]
    async with session.post(request.app[UPSTREAM] + "/v1/messages", data=body, headers={"Content-Type": "application/json"}) as upstream:
        if upstream.content_type != "text/event-stream":
            return web.Response(body=await upstream.read(), status=upstream.status, content_type=upstream.content_type)
        out = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await out.prepare(request)
        async for chunk in upstream.content.iter_any():
            await out.write(chunk)
        await out.write_eof()
        return out


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def build(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_read=600)
        )
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session_context)
    app.router.add_post("/v1/messages", relay)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="bare aiohttp relay (reference)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    web.run_app(build(args.upstream), host="127.0.0.1", port=args.port, loop=loop, access_log=None, print=None, handler_cancellation=True)


if __name__ == "__main__":
    main()
