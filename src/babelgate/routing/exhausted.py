"""The error for a request that nothing could serve, built from why each candidate is out.

Every credential cooling for rate or quota: `429 model_cooldown` with `Retry-After`. Everything
that blocks the request failed just now: the upstream's own error, which says most. Otherwise
`503 auth_unavailable` with counts per reason and whether waiting can help.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from babelgate.call import Call
from babelgate.errors import GatewayError, Kind
from babelgate.providers.base import Upstream
from babelgate.providers.classify import Reason
from babelgate.routing.cooldown import CooldownBook
from babelgate.routing.models import Target
from babelgate.store.base import Entry

COOLING_REASONS = {Reason.QUOTA, Reason.RATE_LIMIT}
# Failures a client's own retry seconds later cannot fix: a refused key, a model the upstream lacks,
# a server that refuses connections. The client is told at once (`x-should-retry: false`).
HOPELESS = {Reason.AUTH, Reason.PERMISSION, Reason.MODEL_NOT_FOUND}
# Past this many seconds to the reset (the router passes `routing.max_wait`: what it would not
# wait itself), tell clients not to retry on their own (Claude Code would otherwise back off for
# minutes in silence); the message says when to come back.
CLIENT_RETRY_LIMIT = 60


def exhausted_error(
    call: Call,
    targets: list[Target],
    upstreams: Mapping[str, Upstream],
    book: CooldownBook,
    last_error: Mapping[str, tuple[int, str, float]],
    client_retry_limit: float = CLIENT_RETRY_LIMIT,
) -> GatewayError:
    blocks = [
        block
        for target in targets
        for credential in upstreams[target.provider].credentials
        if (block := book.blocked(credential.id, target.model)) is not None
    ]
    names = sorted({t.provider for t in targets})
    providers = f"provider{'s' if len(names) > 1 else ''} {', '.join(names)}"
    model = call.request.model
    if blocks and all(b.reason in COOLING_REASONS for b in blocks):
        return _cooling(model, names, providers, blocks, client_retry_limit)
    last = call.failures[-1][1] if call.failures else None
    if last is not None and len(call.failures) >= len(blocks):
        if all(error.failure.reason in HOPELESS or error.upstream_status == 0 for _, error in call.failures):
            last.headers["x-should-retry"] = "false"  # a client's retry in a few seconds meets the same
        if last.upstream_status == 0 and not last.own_cap:
            last.message += f". Check that it is running and that providers.{last.provider}.base_url is right"
        return last
    counts: dict[str, int] = {}
    for block in blocks:
        counts[block.reason.value] = counts.get(block.reason.value, 0) + 1
    statuses = [last_error[b.credential][0] for b in blocks if b.credential in last_error]
    finite = [b.until for b in blocks if b.until != math.inf]
    if finite:
        headers = {"Retry-After": str(max(1, math.ceil(min(finite) - time.time())))}
        hint = ""
    else:
        headers = {"Retry-After": "3600", "x-should-retry": "false"}
        hint = " Waiting will not help: fix or replace the keys, then run `babelgate accounts verify`."
    summary = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
    return GatewayError(
        503,
        Kind.OVERLOADED,
        f"No credential can serve model {model!r} ({providers}): {summary}.{hint}",
        code="auth_unavailable",
        headers=headers,
        details={"model": model, "providers": names, "counts": counts, "recent_statuses": statuses},
    )


def _cooling(model: str, names: list[str], providers: str, blocks: list[Entry], client_retry_limit: float) -> GatewayError:
    seconds = max(1, math.ceil(min(b.until for b in blocks) - time.time()))
    reasons = " and ".join(sorted({b.reason.value.replace("_", " ") for b in blocks}))
    return GatewayError(
        429,
        Kind.RATE_LIMIT,
        f"All credentials for model {model!r} are cooling down ({providers}: {reasons}); retry in {seconds}s.",
        code="model_cooldown",
        headers={"Retry-After": str(seconds), **({"x-should-retry": "false"} if seconds > client_retry_limit else {})},
        details={"model": model, "providers": names, "reset_seconds": seconds},
    )
