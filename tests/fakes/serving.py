"""Serving a fake's aiohttp app on a free loopback port (the accept backlog the gateway uses)."""

from __future__ import annotations

import socket
import ssl

from aiohttp import web

from babelgate.server.app import ACCEPT_BACKLOG


async def serve_loopback(app: web.Application, ssl_context: ssl.SSLContext | None = None, **runner: object) -> tuple[web.AppRunner, int]:
    """The started runner and its port on 127.0.0.1; `runner` options go to the AppRunner."""
    started = web.AppRunner(app, access_log=None, **runner)  # type: ignore[arg-type]
    await started.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await web.SockSite(started, sock, ssl_context=ssl_context, backlog=ACCEPT_BACKLOG).start()
    return started, sock.getsockname()[1]
