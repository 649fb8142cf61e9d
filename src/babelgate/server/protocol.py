"""The HTTP connection layer under the app: framework-level errors in the caller's dialect, and
the client's time limit for sending a request's head.

aiohttp answers a request it cannot parse (a request line or header over 8190 bytes, a malformed
header, broken chunking) itself, in plain text, before any route or middleware runs. Here those
answers are rendered like every other error: in the dialect of the path the client asked for
(read from the first bytes of the request, since the parse failed), with one log line and no
traceback. A client that starts a request and does not finish its head within
`server.client_timeouts.headers` seconds gets a 408 and its connection is closed; the body's
limit (`client_timeouts.body`) is kept where the body is read (server/serve.py).

`GatewayRunner` is `web.AppRunner` with this protocol; the CLI and the tests run the app with it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from babelgate.errors import GatewayError, Kind, kind_for_status
from babelgate.server.app import error_writer
from babelgate.server.gateway import GATEWAY

log = logging.getLogger("babelgate.server")
METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"PATCH ", b"HEAD ", b"OPTIONS ")
SNIFF_BYTES = 512  # enough of a request's start to read its path
QUOTED = re.compile(r":? (?:bytearray\()?b['\"]")  # where aiohttp starts quoting the offending bytes


def sniffed_path(head: bytes) -> str:
    """The path of a request line seen in `head` (the raw start of a request), else "/"."""
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].startswith(b"/"):
        return "/"
    return parts[1].split(b"?", 1)[0].decode("latin-1")


def _why(exc: BaseException | None, message: str | None, status: int) -> str:
    """What was wrong, without the client's bytes aiohttp quotes (a URL may carry a key)."""
    detail = str(getattr(exc, "message", None) or message or HTTPStatus(status).phrase)
    detail = QUOTED.split(detail.split("\n", 1)[0])[0].rstrip(": ")
    if "Got more than" in detail:
        detail = "the request line or a header is longer than 8190 bytes, the limit"
    return f"the HTTP request is malformed: {detail}"


class GatewayProtocol(RequestHandler):
    """aiohttp's request handler, with errors in the caller's dialect and a deadline on request heads."""

    head_timeout: float = 10.0  # set by GatewayServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = b""  # the start of the latest request, for the path of an error
        self._finished = 0  # responses written; `_request_count` counts request heads parsed
        self._head_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if data.startswith(METHODS):
            self._head = data[:SNIFF_BYTES]
        super().data_received(data)
        if self._request_count > self._finished:  # every head so far is complete
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif self._head_timer is None and not self._force_close:  # a head has started and is not complete
            self._head_timer = self._loop.call_later(self.head_timeout, self._head_timed_out)

    async def finish_response(self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None) -> tuple[Any, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self._finished += 1
            if resp.status == 408:  # the body never came: close now (written bytes are sent first), no lingering read
                self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._request_count > self._finished or self.transport is None:
            return
        message = f"the request head was not received within {self.head_timeout:g} s (server.client_timeouts.headers)"
        log.warning("408 %s: %s", sniffed_path(self._head), message)
        response = error_writer(sniffed_path(self._head))(GatewayError(408, Kind.TIMEOUT, message))
        body = response.body if isinstance(response.body, bytes) else b""
        head = f"HTTP/1.1 408 Request Timeout\r\nContent-Type: {response.content_type}\r\nContent-Length: {len(body)}\r\n"
        self.transport.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        self.force_close()  # closes the transport once what was written is sent

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # a response is under way: nothing more can be said
            raise ConnectionError("the response was already started")
        path = request.path if request.method != "UNKNOWN" else sniffed_path(self._head)
        if status >= 500:
            log.error("%s %s: unexpected error (%s)", request.method, path, type(exc).__name__ if exc else status, exc_info=exc)
            error = GatewayError(status, Kind.UPSTREAM, "babelgate hit an internal error; see the gateway log")
        else:
            error = GatewayError(status, kind_for_status(status), _why(exc, message, status))
            log.warning("%s %s %s: %s", request.method, path, status, error.message)
        response = error_writer(path)(error)
        response.force_close()
        return response


class GatewayServer(Server):
    head_timeout: float = 10.0

    def __call__(self) -> RequestHandler:
        protocol = GatewayProtocol(self, loop=self._loop, **self._kwargs)
        protocol.head_timeout = self.head_timeout
        return protocol


class GatewayRunner(web.AppRunner):
    """`web.AppRunner` whose connections are `GatewayProtocol`s."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = GatewayServer  # the same server; only the protocol it makes differs
        assert isinstance(server, GatewayServer)
        server.head_timeout = self.app[GATEWAY].config.server.client_timeouts.headers
        return server
