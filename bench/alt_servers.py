"""One alternative relay process: `python -m bench.alt_servers --server S --client C --port P --upstream URL`.

The servers (each on uvloop, HTTP/1.1 keep-alive, one process; granian's parent supervises one worker):

- `aiohttp`: aiohttp.web, `handler_cancellation=True` as the gateway runs it;
- `granian`: granian's RSGI interface (its Rust HTTP server, the app on the worker's asyncio loop);
- `uvicorn`: uvicorn with its httptools protocol and a raw ASGI app (no framework);
- `raw`: an asyncio Protocol per connection with httptools' request parser, chunked encoding by hand.

Every one relays POSTs with `handle` (bench/alt_job.py does the JSON) through one upstream client
(bench/alt_clients.py), answers GETs with a health body, and cancels the request when its client goes
away (aiohttp by itself, granian by `client_disconnect()`, uvicorn by `http.disconnect`, raw by
`connection_lost`), which closes the upstream connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bench import alt_clients, alt_job
from bench.alt_job import MAX_BODY, STREAM_HEADERS, Events, TooLarge, answer, upstream_body

HEALTH = b'{"status":"ok"}'


class Out(Protocol):
    async def whole(self, status: int, body: bytes) -> None: ...

    async def start(self) -> None: ...

    async def write(self, data: bytes) -> None: ...

    async def end(self) -> None: ...


async def handle(client: alt_clients.Client, body: bytes, out: Out) -> None:
    """The hot path: the client's chat body → the upstream → the client, a stream event by event."""
    upstream, stream, model = upstream_body(body)
    if not stream:
        status, raw = await client.whole(upstream)
        await out.whole(status, answer(raw, model) if status == 200 else raw)
        return
    async with client.stream(upstream) as (status, chunks):
        if status != 200:
            await out.whole(status, b"".join([c async for c in chunks]))
            return
        await out.start()
        events = Events(model)
        async for chunk in chunks:
            if data := events.feed(chunk):
                await out.write(data)
        await out.end()


def _client() -> alt_clients.Client:
    return alt_clients.make(os.environ["ALT_CLIENT"], os.environ["ALT_UPSTREAM"])


# ---- aiohttp.web -----------------------------------------------------------------------


def run_aiohttp(port: int) -> None:
    import uvloop
    from aiohttp import web

    client_key = web.AppKey("client", alt_clients.Client)  # type: ignore[type-abstract]

    class AiohttpOut:
        def __init__(self, request: web.Request) -> None:
            self.request = request
            self.response: web.StreamResponse | None = None

        async def whole(self, status: int, body: bytes) -> None:
            self.response = web.Response(status=status, body=body, content_type="application/json")

        async def start(self) -> None:
            self.response = web.StreamResponse(headers=STREAM_HEADERS)
            await self.response.prepare(self.request)

        async def write(self, data: bytes) -> None:
            assert self.response is not None
            await self.response.write(data)

        async def end(self) -> None:
            assert self.response is not None
            await self.response.write_eof()

    async def relay(request: web.Request) -> web.StreamResponse:
        out = AiohttpOut(request)
        await handle(request.app[client_key], await request.read(), out)
        assert out.response is not None
        return out.response

    async def health(request: web.Request) -> web.StreamResponse:
        return web.Response(body=HEALTH, content_type="application/json")

    async def lifetime(app: web.Application) -> Any:
        app[client_key] = _client()
        yield
        await app[client_key].close()

    app = web.Application(client_max_size=MAX_BODY)
    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/{tail:.*}", relay)
    app.router.add_get("/{tail:.*}", health)
    loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, loop=loop, access_log=None, print=None, handler_cancellation=True)


# ---- the cancel-on-disconnect both granian and uvicorn need ----------------------------


async def _until_gone(disconnected: Awaitable[Any], work: Awaitable[None]) -> None:
    """Run `work` in this task; if `disconnected` resolves first, cancel it (the client went away)."""
    task = asyncio.current_task()
    assert task is not None
    finished = False

    def gone(_: object) -> None:
        if not finished:
            task.cancel()

    watch = asyncio.ensure_future(disconnected)
    watch.add_done_callback(gone)
    try:
        await work
    except asyncio.CancelledError:
        if not watch.done() or watch.cancelled():
            raise  # cancelled for another reason than the client leaving
    finally:
        finished = True
        watch.cancel()


# ---- granian, RSGI ---------------------------------------------------------------------


class RSGIApp:
    """`bench.alt_servers:rsgi_app`, served by `granian --interface rsgi` in its worker process."""

    def __init__(self) -> None:
        self.client: alt_clients.Client | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.client = loop.run_until_complete(_make_client())

    async def __call__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        if scope.method == "GET":
            proto.response_bytes(200, [("content-type", "application/json")], HEALTH)
            return
        body = await proto()
        if len(body) > MAX_BODY:  # granian reads it whole first: no limit of its own
            proto.response_bytes(413, [("content-type", "application/json")], b"{}")
            return
        assert self.client is not None
        await _until_gone(proto.client_disconnect(), handle(self.client, body, _GranianOut(proto)))


async def _make_client() -> alt_clients.Client:
    return _client()


class _GranianOut:
    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.transport: Any = None

    async def whole(self, status: int, body: bytes) -> None:
        self.proto.response_bytes(status, [("content-type", "application/json")], body)

    async def start(self) -> None:
        self.transport = self.proto.response_stream(200, [(k.lower(), v) for k, v in STREAM_HEADERS.items()])

    async def write(self, data: bytes) -> None:
        await self.transport.send_bytes(data)

    async def end(self) -> None:
        return None


rsgi_app = RSGIApp()


def run_granian(port: int) -> None:
    argv = [sys.executable, "-m", "granian", "--interface", "rsgi", "--loop", "uvloop", "--workers", "1", "--runtime-threads", "1"]
    argv += ["--http", "1", "--no-ws", "--no-access-log", "--log-level", "warning", "--host", "127.0.0.1", "--port", str(port)]
    os.execv(sys.executable, [*argv, "bench.alt_servers:rsgi_app"])


# ---- uvicorn + httptools, raw ASGI -----------------------------------------------------

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
ASGI_JSON = [(b"content-type", b"application/json")]
ASGI_STREAM = [(k.lower().encode(), v.encode()) for k, v in STREAM_HEADERS.items()]


class ASGIApp:
    def __init__(self) -> None:
        self.client: alt_clients.Client | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["method"] == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": ASGI_JSON})
            await send({"type": "http.response.body", "body": HEALTH})
            return
        parts, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            more = message.get("more_body", False)
            if size > MAX_BODY:
                raise TooLarge("the client's body")
        assert self.client is not None
        await _until_gone(_disconnect(receive), handle(self.client, b"".join(parts), _ASGIOut(send)))

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """The upstream client made at start-up (its imports would otherwise delay the first request)."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = _client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _ASGIOut:
    def __init__(self, send: Send) -> None:
        self.send = send

    async def whole(self, status: int, body: bytes) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": ASGI_JSON})
        await self.send({"type": "http.response.body", "body": body})

    async def start(self) -> None:
        await self.send({"type": "http.response.start", "status": 200, "headers": ASGI_STREAM})

    async def write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b""})


def run_uvicorn(port: int) -> None:
    import uvicorn

    config = uvicorn.Config(
        ASGIApp(), host="127.0.0.1", port=port, loop="uvloop", http="httptools", lifespan="on", access_log=False, log_level="warning"
    )
    uvicorn.Server(config).run()


# ---- a raw asyncio Protocol on httptools -----------------------------------------------

REASONS = {200: b"OK", 400: b"Bad Request", 413: b"Payload Too Large", 500: b"Internal Server Error"}


class RawServer(asyncio.Protocol):
    """One client connection: requests parsed by httptools, answered one after the other by a task each."""

    def __init__(self, client: alt_clients.Client) -> None:
        import httptools

        self.client = client
        self.parser = httptools.HttpRequestParser(self)
        self.parse_error = httptools.HttpParserError
        self.transport: Any = None
        self.parts: list[bytes] = []
        self.size = 0
        self.pending: deque[tuple[bytes, bytes, bool]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.gone = False
        self.paused = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except self.parse_error:
            self._fail(400)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        if self.task is not None:
            self.task.cancel()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.parts, self.size = [], 0

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_BODY:
            self._fail(413)
            raise self.parse_error("body too large")
        self.parts.append(body)

    def on_message_complete(self) -> None:
        self.pending.append((self.parser.get_method(), b"".join(self.parts), self.parser.should_keep_alive()))
        if len(self.pending) > 16 and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # a client pipelining without reading: stop reading it
        if self.task is None:
            self._next()

    def _next(self) -> None:
        if self.pending and not self.gone:
            self.task = asyncio.get_running_loop().create_task(self._serve(*self.pending.popleft()))
            if self.paused:
                self.paused = False
                self.transport.resume_reading()

    def _fail(self, status: int) -> None:
        if not self.gone:
            self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % (status, REASONS[status]))
            self.transport.close()
            self.gone = True

    async def _serve(self, method: bytes, body: bytes, keep_alive: bool) -> None:
        out = _RawOut(self, keep_alive)
        try:
            if method == b"GET":
                await out.whole(200, HEALTH)
            else:
                await handle(self.client, body, out)
        except asyncio.CancelledError:
            return
        except Exception:
            if not out.started:
                self._fail(500)
            else:
                self.transport.close()
            return
        finally:
            self.task = None
        if not keep_alive:
            self.transport.close()
        else:
            self._next()


class _RawOut:
    def __init__(self, conn: RawServer, keep_alive: bool) -> None:
        self.conn = conn
        self.close = b"" if keep_alive else b"Connection: close\r\n"
        self.started = False

    async def whole(self, status: int, body: bytes) -> None:
        head = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
        self.conn.transport.write(head % (status, REASONS.get(status, b"Error"), len(body), self.close) + body)

    async def start(self) -> None:
        self.started = True
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
        self.conn.transport.write(head + self.close + b"\r\n")

    async def write(self, data: bytes) -> None:
        self.conn.transport.write(b"%x\r\n%s\r\n" % (len(data), data))
        if self.conn.drained is not None:
            await self.conn.drained  # the client reads slower than the upstream writes: wait (bounded buffer)

    async def end(self) -> None:
        self.conn.transport.write(b"0\r\n\r\n")


def run_raw(port: int) -> None:
    import uvloop

    async def serve() -> None:
        client = _client()
        server = await asyncio.get_running_loop().create_server(lambda: RawServer(client), "127.0.0.1", port, backlog=4096)
        async with server:
            with contextlib.suppress(asyncio.CancelledError):
                await server.serve_forever()

    uvloop.run(serve())


SERVERS = {"aiohttp": run_aiohttp, "granian": run_granian, "uvicorn": run_uvicorn, "raw": run_raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=list(SERVERS), required=True)
    parser.add_argument("--client", choices=list(alt_clients.CLIENTS), required=True)
    parser.add_argument("--json", choices=["orjson", "msgspec"], default="orjson")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    os.environ.update(ALT_CLIENT=args.client, ALT_UPSTREAM=args.upstream, ALT_JSON=args.json)  # granian's worker reads them too
    alt_job.use(args.json)
    SERVERS[args.server](args.port)


if __name__ == "__main__":
    main()
