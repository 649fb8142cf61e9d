"""`python -m bench.alt_checks`: which promises each alternative relay keeps, checked through real sockets.

For each relay of bench/alternatives.py, against its own fake upstream:

- **flush + disconnect**: a client opens a slow stream (40 chunks 250 ms apart); its first token must
  arrive before the second event is even due (not held in a buffer); the client then closes its
  socket, and the relay's connection to the upstream must close soon after (cancelled), not when the
  stream would have ended 10 s later. Counted in /proc/net/tcp.
- **keep-alive**: ten requests one after the other on one client connection open exactly one
  upstream connection (the pool reuses it) and one client connection (the server keeps it).
- **chunked**: a stream's body arrives with `Transfer-Encoding: chunked` and ends with `[DONE]`.
"""

from __future__ import annotations

import http.client
import json
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import procs, scenarios
from bench.alternatives import RELAYS, Relay
from bench.targets import Upstream

SLOW = "bench-40x250"


def _established(remote_port: int) -> int:
    """Sockets on this machine connected to `remote_port` on loopback (state ESTABLISHED)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == remote_port:
                count += 1
    return count


def _body(model: str, stream: bool) -> bytes:
    return json.dumps({**scenarios.SMALL_BODY, "model": model, "stream": stream}).encode()


def disconnect(port: int, upstream_port: int) -> str:
    request = _body(SLOW, True)
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(request)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + request)
        sent = time.monotonic()
        seen = b""
        while b'"tok' not in seen:
            data = sock.recv(65536)
            if not data:
                return "stream ended before its first token"
            seen += data
        first = 1000 * (time.monotonic() - sent)
        flushed = f"first token after {first:.0f} ms{'' if first < 200 else ' (NOT flushed: the next event is due at 250 ms)'}"
        if _established(upstream_port) != 1:
            return f"{flushed}; {_established(upstream_port)} upstream connections while streaming (expected 1)"
    closed_at = time.monotonic()
    while time.monotonic() - closed_at < 5:
        if _established(upstream_port) == 0:
            return f"{flushed}; upstream closed {1000 * (time.monotonic() - closed_at):.0f} ms after the client left"
        time.sleep(0.02)
    return f"{flushed}; NOT cancelled: the upstream connection was still open 5 s after the client left"


def keep_alive(port: int, upstream_port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(10):
            connection.request("POST", "/v1/chat/completions", _body("bench-fast", False), {"Content-Type": "application/json"})
            response = connection.getresponse()
            if response.status != 200 or b'"stop"' not in response.read():
                return f"HTTP {response.status}"
        upstream = _established(upstream_port)
        clients = _established(port)
    finally:
        connection.close()
    ok = upstream == 1 and clients == 1
    return f"{'ok' if ok else 'NOT kept'}: {clients} client connection(s), {upstream} upstream connection(s) for 10 requests"


def chunked(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/v1/chat/completions", _body("bench-20x0", True), {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()  # http.client decodes the chunked framing, and fails on a broken one
        encoding = response.getheader("Transfer-Encoding", "")
    finally:
        connection.close()
    events = body.count(b"data: ")
    ok = encoding == "chunked" and body.rstrip().endswith(b"data: [DONE]") and events == 24
    return f"{'ok' if ok else 'NOT ok'}: Transfer-Encoding {encoding or 'none'}, {events} events"


def check(relay: Relay, work: Path) -> dict[str, Any]:
    upstream = Upstream.start(work / relay.key)
    try:
        running = relay.start(work, upstream.port)
        try:
            return {
                "flush+disconnect": disconnect(int(running.url.rsplit(":", 1)[1]), upstream.port),
                "keep-alive": keep_alive(int(running.url.rsplit(":", 1)[1]), upstream.port),
                "chunked": chunked(int(running.url.rsplit(":", 1)[1])),
            }
        finally:
            running.stop()
    finally:
        procs.stop(upstream.proc)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="babelgate-alt-checks-"))
    for key, relay in RELAYS.items():
        if relay.json != "orjson":
            continue
        for name, outcome in check(relay, work).items():
            print(f"{key:20} {name:11} {outcome}", flush=True)


if __name__ == "__main__":
    main()
