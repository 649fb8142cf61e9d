"""A real `redis-server` (Debian package `redis-server`, installed by the Makefile) on a loopback port.

It keeps an append-only file in its own directory, so a stop and a start on the same port find the
data again (as a production Redis with `appendonly yes` does). Stopped by its PID.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.support.processes import free_port, terminate

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory), "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no", "--loglevel", "warning"]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen([REDIS_SERVER, *args], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        await self._wait_ready()
        return self

    async def stop(self) -> None:
        """SIGTERM (Redis writes its append-only file and exits), bounded."""
        process, self.process = self.process, None
        await terminate(process)

    async def _wait_ready(self) -> None:
        client = aioredis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 15
        try:
            while True:
                assert self.process is not None and self.process.poll() is None, (self.directory / "redis.log").read_text()
                try:
                    if await client.ping():
                        return
                except RedisError:
                    if time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.02)  # between polls of a condition that has a deadline
        finally:
            await client.aclose()
