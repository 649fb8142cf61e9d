"""`babelgate serve` as a real process for tests that kill it: start, wait until it answers, find its
workers, and wait (bounded, polling) for processes to go."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
import yaml

from tests.support.processes import free_port

BABELGATE = str(Path(sys.executable).with_name("babelgate"))
START_SECONDS = 30.0


@dataclass
class Served:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """`kill -9`: no handler runs, nothing is flushed."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
        await self.process.wait()


async def serve(config: dict[str, Any], tmp: Path, *args: str, port: int | None = None, name: str = "serve") -> Served:
    """Start `babelgate serve` with `config` and wait (bounded) until /health answers."""
    config_path = tmp / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = port or free_port()
    log = tmp / f"{name}-{port}-{time.monotonic_ns()}.log"
    out: IO[bytes] = log.open("wb")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp)}
    process = await asyncio.create_subprocess_exec(
        BABELGATE, "serve", "--config", str(config_path), "--port", str(port), *args, env=env, stdout=out, stderr=out
    )
    out.close()
    served = Served(process, port, log)
    await answering(served)
    return served


async def answering(served: Served) -> None:
    """Wait (bounded) until the server's /health answers."""
    deadline = time.monotonic() + START_SECONDS
    async with aiohttp.ClientSession() as session:
        while True:
            assert served.process.returncode is None, f"babelgate serve exited early:\n{served.log.read_text()}"
            assert time.monotonic() < deadline, f"babelgate serve did not answer within {START_SECONDS}s:\n{served.log.read_text()}"
            try:
                async with session.get(f"{served.url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)  # the next poll of a bounded wait


def children(pid: int) -> list[int]:
    """The worker processes of a supervisor (multiprocessing's spawned children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            spawned = b"spawn_main" in (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and spawned and alive(int(proc.name)):
            found.append(int(proc.name))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def until(condition: Any, seconds: float, what: str) -> None:
    """Poll `condition()` until it is true, failing with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        await asyncio.sleep(0.02)  # the next poll of a bounded wait
