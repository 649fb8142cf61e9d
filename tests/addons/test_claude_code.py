"""The claude_code addon on real Claude Code requests: the billing header reaches Anthropic and no other family."""

from __future__ import annotations

import json

import pytest

from babelgate.addons.base import Context
from babelgate.addons.claude_code import BILLING_HEADER, ClaudeCode
from babelgate.call import Call
from babelgate.config import parse
from babelgate.dialects import anthropic
from babelgate.observe.usage import UsageLedger
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
def test_the_billing_header_stays_in_the_body_an_anthropic_upstream_gets(name: str) -> None:
    raw = fixture(name)
    original = json.loads(json.dumps(raw))
    call = Call(anthropic, anthropic.parse_request(raw), {}, raw=raw)
    addon().request(call)
    body = anthropic.passthrough(raw, call.request, "claude-real")
    assert body["system"] == original["system"]  # the header first, as Claude Code sent it
    assert raw == original  # the client's body is not edited in place
