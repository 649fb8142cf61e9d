"""The Anthropic Messages API's checks that a cloud-format body would fail, for a FakeUpstream script.

The Messages API names the model in the body, wants `anthropic-version` as a header and refuses
body fields it does not define with `<field>: Extra inputs are not permitted` (400,
invalid_request_error), as it does for the Bedrock/Vertex-only `anthropic_version` and
`anthropic_beta`. `strict(answer)` checks a request, then lets `answer` reply.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.upstream import Received, Reply, Script

CLOUD_ONLY = ("anthropic_version", "anthropic_beta")


def invalid(message: str, status: int = 400, kind: str = "invalid_request_error") -> Reply:
    return Reply(status, {"type": "error", "error": {"type": kind, "message": message}}, headers={"request-id": "req_fake"})


def check(record: Received) -> Reply | None:
    if "x-api-key" not in record.headers:
        return invalid("x-api-key header is required", 401, "authentication_error")
    if "anthropic-version" not in record.headers:
        return invalid("anthropic-version: header is required")
    body: Any = record.body
    if not isinstance(body, dict):
        return invalid("Input should be an object")
    for field in CLOUD_ONLY:
        if field in body:
            return invalid(f"{field}: Extra inputs are not permitted")
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            return invalid(f"{field}: Field required")
    return None


def strict(answer: Script) -> Script:
    def script(record: Received) -> Reply:
        return check(record) or answer(record)

    return script
