"""docs/troubleshooting.md lists every error babelgate emits: each `code=` in the source, each kind,
each wire name the dialects render it as, and each reason a key is benched for; CHANGELOG.md
covers the version the package says it is."""

from __future__ import annotations

import re
from pathlib import Path

from babelgate import __version__
from babelgate.dialects.anthropic._wire import ERROR_TYPES as ANTHROPIC_TYPES
from babelgate.dialects.gemini._wire import STATUS as GEMINI_STATUS
from babelgate.dialects.openai_chat.client_response import ERROR_TYPES as OPENAI_TYPES
from babelgate.dialects.openai_responses.client_response import ERROR_CODES as RESPONSES_CODES
from babelgate.errors import Kind
from babelgate.providers.classify import Reason
from babelgate.server.bedrock_inbound import EXCEPTIONS as BEDROCK_EXCEPTIONS
from babelgate.server.eventstream import EXCEPTIONS as BEDROCK_STREAM_EXCEPTIONS
from babelgate.server.eventstream import STREAM_ERROR

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "babelgate"


def emitted_codes() -> set[str]:
    return {m for path in SRC.rglob("*.py") for m in re.findall(r"\bcode=\"(\w+)\"", path.read_text())}


def test_every_error_code_kind_and_wire_name_is_listed() -> None:
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert {"model_not_found", "model_cooldown", "auth_unavailable", "upstream_error"} <= emitted_codes()  # the scan finds them
    names = {
        *emitted_codes(),
        *(kind.value for kind in Kind),
        *ANTHROPIC_TYPES.values(),
        *OPENAI_TYPES.values(),
        *RESPONSES_CODES.values(),
        "server_error",
        *(status for _, status in GEMINI_STATUS.values()),
        *(name for _, name in BEDROCK_EXCEPTIONS.values()),
        *BEDROCK_STREAM_EXCEPTIONS.values(),
        STREAM_ERROR,
        *(reason.value for reason in Reason),
    }
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert missing == [], "docs/troubleshooting.md does not list these: say what each means and what to do"


def test_the_changelog_covers_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(__version__)}\b", text, re.M), f"CHANGELOG.md has no section for {__version__}"
