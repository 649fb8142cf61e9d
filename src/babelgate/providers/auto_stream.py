"""Auto-stream (`providers.<name>.auto_stream: true`): a non-streaming request goes upstream as a stream.

Long generations then keep the connection busy (no idle timeout between the request and a whole
answer minutes later), and rate limiters that treat streams better see one. The stream is
collected with `ir.accumulate` and answered whole, so the client sees what it asked for; the
answer is rebuilt from ir (never the upstream's bytes), and a stream that breaks before its end
is a failure the router can still fail over, since nothing has reached the client yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from babelgate import ir
from babelgate.errors import Kind, UpstreamError
from babelgate.providers.base import Attempt, Reply
from babelgate.providers.stream import READ_ERRORS, reason

ErrorMaker = Callable[[int, str], UpstreamError]
_STATUS_OF_KIND = {Kind.RATE_LIMIT.value: 429, Kind.OVERLOADED.value: 529}


def streamed(attempt: Attempt) -> Attempt:
    """The attempt asking for a stream; the client's own body (pass-through) says so too."""
    raw = None if attempt.raw is None else {**attempt.raw, "stream": True}
    return dataclasses.replace(attempt, request=dataclasses.replace(attempt.request, stream=True), raw=raw)


async def collected(reply: Reply, error: ErrorMaker) -> Reply:
    """The stream of `reply` read to its end as one whole response (not pass-through: it is rendered anew)."""
    snapshot: ir.Snapshot | None = None
    try:
        assert reply.chunks is not None, "a streamed attempt answers with a stream"
        async for _, events in reply.chunks:
            for event in events:
                snapshot = ir.accumulate(event, snapshot)
    except READ_ERRORS as failure:
        raise error(502, f"stream failed before its end: {reason(failure)}") from None
    finally:
        reply.release()
    if snapshot is None:
        raise error(502, "stream ended without any event")
    if snapshot.error is not None:
        raise error(_STATUS_OF_KIND.get(snapshot.error.kind, 502), f"stream failed: {snapshot.error.message}")
    return Reply(False, response=snapshot.response)
