"""A client key's requests per minute hold across `babelgate serve --workers 2` (a real process, its workers
sharing one SQLite store file): requests split over both workers, exactly `rpm` of them succeed.

Which worker answered a request is read from the kernel: the gateway-side socket of each client
connection (/proc/net/tcp) and the worker that holds it open (/proc/PID/fd)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import yaml

from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.processes import free_port
from tests.test_serve_cli import base_env, serving

ALICE = "alice-key-0123456789"
RPM = 7
SENT = 24


def _hex_port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def worker_of_connections(gateway_port: int, client_ports: set[int], pids: list[int]) -> dict[int, int]:
    """For each client port connected to the gateway: the pid of the worker holding the other end."""
    inode_of: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if _hex_port(local) == gateway_port and _hex_port(remote) in client_ports:
            inode_of[f"socket:[{inode}]"] = _hex_port(remote)
    found: dict[int, int] = {}
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        for fd in fds.iterdir() if fds.exists() else ():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in inode_of:
                found[inode_of[target]] = pid
    return found


def children(parent: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def client_session() -> tuple[aiohttp.ClientSession, int]:
    """A session whose one connection leaves from a port of its own (so the kernel's tables name it)."""
    own = free_port()
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1, local_addr=("127.0.0.1", own))), own


async def _post(session: aiohttp.ClientSession, port: int) -> tuple[int, str]:
    body = {"model": "claude-sonnet-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with session.post(f"http://127.0.0.1:{port}/v1/messages", json=body, headers={"x-api-key": ALICE}) as response:
        await response.read()
        return response.status, response.headers.get("retry-after", "")


async def test_a_keys_requests_per_minute_hold_across_two_workers(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.script = lambda record: Reply(json=wire.completion("from a worker"))
    config = {
        "providers": {"up": {"base_url": f"{upstream.url}/v1", "api_keys": ["sk-worker-key-1"], "models": ["gpt-5"]}},
        "aliases": {"claude-*": "up/gpt-5"},
        "store": {"path": str(tmp_path / "state.db")},
        "server": {"api_keys": [{"key": ALICE, "name": "alice", "rpm": RPM}]},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    async with serving("--config", str(config_path), "--workers", "2", env=base_env(tmp_path), port=port) as (process, _):
        workers = children(process.pid)
        await _both_workers_listening(port, workers)
        sessions = [client_session() for _ in range(SENT)]
        try:
            results = await asyncio.gather(*(_post(session, port) for session, _ in sessions))
            served_by = worker_of_connections(port, {own for _, own in sessions}, workers)  # while the connections are open
        finally:
            await asyncio.gather(*(session.close() for session, _ in sessions))
    statuses = [status for status, _ in results]
    assert statuses.count(200) == RPM and statuses.count(429) == SENT - RPM  # exactly rpm, whichever worker they reached
    assert all(1 <= int(retry) <= 60 for status, retry in results if status == 429), results
    assert len(served_by) == SENT and len(set(served_by.values())) == 2  # both workers answered
    assert len(upstream.received) == RPM


async def _both_workers_listening(port: int, workers: list[int]) -> None:
    """Probe /health, each probe on its own connection, until both workers have answered one (bounded)."""
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while len(seen) < 2:
        assert time.monotonic() < deadline, f"only workers {seen} of {workers} answered"
        sessions = [client_session() for _ in range(8)]
        try:
            await asyncio.gather(*(_probe(session, port) for session, _ in sessions))
            seen |= set(worker_of_connections(port, {own for _, own in sessions}, workers).values())
        finally:
            await asyncio.gather(*(session.close() for session, _ in sessions))


async def _probe(session: aiohttp.ClientSession, port: int) -> None:
    async with session.get(f"http://127.0.0.1:{port}/health") as response:
        await response.read()
