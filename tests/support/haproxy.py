"""A real HAProxy (Debian package `haproxy`, installed by the Makefile) running deploy/haproxy.cfg, the
file the docs ship, with loopback addresses from the environment. Stopped by its PID."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp

from tests.support.processes import free_port, terminate

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"


class HAProxy:
    def __init__(self, instances: list[int], log: Path) -> None:
        self.port, self.stats_port = free_port(), free_port()
        self.instances = instances
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {"BABELGATE_LISTEN": f"127.0.0.1:{self.port}", "BABELGATE_STATS": f"127.0.0.1:{self.stats_port}"}
        env.update({f"BABELGATE_{i + 1}": f"127.0.0.1:{port}" for i, port in enumerate(self.instances)})
        return env

    async def start(self) -> HAProxy:
        with self.log.open("ab") as log:
            env = {**os.environ, **self.environment()}
            self.process = subprocess.Popen([HAPROXY, "-db", "-f", str(CONFIG)], env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    async def stop(self) -> None:
        process, self.process = self.process, None
        await terminate(process)

    async def states(self) -> dict[str, str]:
        """Each instance's state as HAProxy's health checks see it: "UP", "DOWN", ..."""
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{self.stats_port}/;csv") as response:
            text = await response.text()
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: row["status"].split()[0] for row in rows if row["pxname"] == "instances" and row["svname"].startswith("b")}

    async def wait_for(self, wanted: dict[str, str], timeout: float = 20) -> None:
        """Until the health checks agree with `wanted` (e.g. {"b1": "UP"}), with a deadline."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while True:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                states = await self.states()
            except aiohttp.ClientError:
                states = {}
            if all(states.get(name) == state for name, state in wanted.items()):
                return
            assert time.monotonic() < deadline, f"HAProxy sees {states}, waited for {wanted}"
            await asyncio.sleep(0.05)  # polling a condition with a deadline
