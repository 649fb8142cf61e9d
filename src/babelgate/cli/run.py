"""Starting a gateway process: checks before listening, then serving until SIGTERM or SIGINT.

Every way start-up can fail (an exposed address without client keys, a host that does not
resolve, a port in use, a store that cannot be opened) ends the process with exit status 2 and
one line naming the cause and the config key, never a traceback. "listening on" is printed by
`on_listening`, called once the socket is actually bound.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from babelgate.cli.load import console
from babelgate.config import Config
from babelgate.observe.logfmt import JsonFormatter
from babelgate.redact import RedactingFormatter

EXIT_STARTUP = 2


class StartupError(Exception):
    """Start-up cannot go on; the message is one line naming the cause and the config key."""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    log_level: str = "info"
    log_format: str = "text"  # or json: one object per line (observe/logfmt.py)
    drain_seconds: float = 60.0  # on SIGTERM, how long requests and streams in flight may take to finish


def configure_logging(level: str, log_format: str = "text") -> None:
    # No line shows the thread, the process or the calling function; not collecting them (the logging
    # HOWTO's "Optimization") saves a fifth of a line's cost, which every request pays once.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # the documented switch for the caller lookup
    handler = logging.StreamHandler()
    text = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(JsonFormatter() if log_format == "json" else RedactingFormatter(text))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler], force=True)


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (a name counts if every address it has is loopback)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        raise StartupError(f"server.host: cannot resolve {host!r}: {error.strerror}") from None
    return all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


def check_exposure(cfg: Config, allow_public: bool) -> None:
    """A gateway other machines can reach must have client keys, unless that was explicitly allowed."""
    server = cfg.server
    if server.api_keys or is_loopback(server.host):
        return
    if not (allow_public or server.allow_public):
        raise StartupError(
            f"server.host: {server.host or '(all interfaces)'} is reachable from other machines and server.api_keys is empty, "
            "so anyone who reaches the port could spend your credentials; set server.api_keys, "
            "or allow it with --allow-public (server.allow_public: true)"
        )
    console.print(f"[yellow]warning:[/yellow] serving {server.host} without client keys (allow_public)", highlight=False)


def bind_error(error: OSError, host: str, port: int) -> str:
    if isinstance(error, socket.gaierror):
        return f"server.host: cannot resolve {host!r}: {error.strerror}"
    if error.errno == errno.EADDRINUSE:
        return f"server.port: port {port} on {host} is already in use"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"server.host: {host} is not an address of this machine"
    if error.errno == errno.EACCES:
        return f"server.port: no permission to listen on port {port}"
    return f"server.host: cannot listen on {host}:{port}: {error.strerror or error}"


def run_worker(cfg: Config, reuse_port: bool, options: WorkerOptions, on_listening: Callable[[], None] | None = None) -> None:
    """Serve `cfg` in this process until SIGTERM/SIGINT; a start-up failure exits with EXIT_STARTUP."""
    configure_logging(options.log_level, options.log_format)
    # Everything imported now lives as long as the process: keep the collector off it, and
    # collect less often (measured in bench/: lower p99 on 50 KB requests, a little more throughput).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_serve(cfg, reuse_port, options.drain_seconds, on_listening))
    except StartupError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_STARTUP)
    finally:
        loop.close()


async def _serve(cfg: Config, reuse_port: bool, drain_seconds: float, on_listening: Callable[[], None] | None) -> None:
    from aiohttp import web

    from babelgate.server.app import ACCEPT_BACKLOG, RUNNER_OPTIONS, build_app
    from babelgate.server.gateway import GATEWAY
    from babelgate.server.protocol import GatewayRunner
    from babelgate.server.reload import install_sighup
    from babelgate.store.keys import KeyUnavailable
    from babelgate.store.sqlite import StoreUnavailable

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # On SIGTERM: stop listening, close idle connections, let requests and streams in flight finish (for up
    # to drain_seconds; the rest are cut off), then close the store. A rolling restart loses nothing.
    runner = GatewayRunner(build_app(cfg), shutdown_timeout=drain_seconds, **RUNNER_OPTIONS)
    try:
        await runner.setup()  # the gateway starts: the store is opened, its keys loaded
    except (StoreUnavailable, KeyUnavailable) as error:  # nothing to clean up: the process ends
        raise StartupError(str(error)) from None
    install_sighup(runner.app[GATEWAY])  # SIGHUP: read the config file again (server/reload.py)
    try:
        site = web.TCPSite(runner, cfg.server.host, cfg.server.port, backlog=ACCEPT_BACKLOG, reuse_port=reuse_port or None)
        try:
            await site.start()
        except OSError as error:
            raise StartupError(bind_error(error, cfg.server.host, cfg.server.port)) from None
        if on_listening is not None:
            on_listening()
        await stop.wait()
    finally:
        await runner.cleanup()
