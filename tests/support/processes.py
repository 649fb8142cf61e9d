"""What the tests that start real servers share: a free loopback port, and a bounded stop of a process."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess


def free_port() -> int:
    """A port the kernel just handed out for 127.0.0.1 (bind to port 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def terminate(process: subprocess.Popen[bytes] | None, seconds: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `seconds`; waits off the event loop."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(process.wait, seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        await asyncio.to_thread(process.wait, seconds)
