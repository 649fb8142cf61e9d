"""The claude_code addon on real Claude Code requests: the per-prompt billing header never goes upstream."""

from __future__ import annotations

import json

import pytest

from babelgate.addons.base import Context
from babelgate.addons.claude_code import BILLING_HEADER, ClaudeCode
from babelgate.call import Call
from babelgate.config import parse
from babelgate.dialects import anthropic
from babelgate.observe.usage import UsageLedger
from babelgate.providers.base import Attempt, Credential
from babelgate.store.memory import MemoryStore
from tests.dialects.helpers import CAPTURE_NAMES, fixture

CLAUDE_CODE = [name for name in CAPTURE_NAMES if name.startswith("claude-code-")]


def addon() -> ClaudeCode:
    return ClaudeCode(Context(parse({}), MemoryStore(), UsageLedger()))


@pytest.mark.parametrize("name", CLAUDE_CODE)
async def test_the_billing_header_leaves_the_translated_request(name: str) -> None:
    raw = fixture(name)
    call = Call(anthropic, anthropic.parse_request(raw), {}, raw=raw)
    assert call.request.system[0].text.startswith(BILLING_HEADER)
    assert addon().request(call) is None
    assert [p.text for p in call.request.system] == [b["text"] for b in raw["system"][1:]]  # the prompt blocks, in order


@pytest.mark.parametrize("name", CLAUDE_CODE)
def test_the_billing_header_leaves_the_passed_through_body(name: str) -> None:
    raw = fixture(name)
    original = json.loads(json.dumps(raw))
    request = anthropic.parse_request(raw)
    body = anthropic.passthrough(raw, request, "claude-real")
    attempt = Attempt(request, "claude-real", Credential("up#0", "up", "k"), {}, raw)
    addon().upstream_request(attempt, body)
    assert body["system"] == raw["system"][1:]  # cache_control and all
    assert raw == original  # the client's body is not edited in place
    translated = Attempt(request, "m", Credential("up#0", "up", "k"), {}, None)
    other = {"system": list(raw["system"])}
    addon().upstream_request(translated, other)
    assert other["system"] == raw["system"]  # a translated body is the encoder's, already without it
