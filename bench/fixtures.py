"""The captured Claude Code requests in .cache/captures/, read at run time.

tests/support/captures.py takes them from the pinned CLI (`python -m bench.run` has it do so
first); `BENCH_FIXTURES` points at another folder of such captures instead. Standard library
only: the LiteLLM translation timer imports this from LiteLLM's own venv.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.pins import CLAUDE_CODE_VERSION

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("BENCH_FIXTURES", REPO / ".cache" / "captures"))
PATTERN = f"claude-code-{CLAUDE_CODE_VERSION}-*.json"
DROP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "authorization", "x-api-key", "transfer-encoding"}


@dataclass(frozen=True)
class Fixture:
    name: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def size(self) -> int:
        return len(json.dumps(self.body, separators=(",", ":")).encode())


def claude_code() -> list[Fixture]:
    """Every Claude Code capture of the pinned version: one `POST /v1/messages?beta=true` of about 50 KB each."""
    found = []
    for file in sorted(FIXTURES.glob(PATTERN)):
        data = json.loads(file.read_text())
        headers = {str(k): str(v) for k, v in data["headers"] if str(k).lower() not in DROP_HEADERS}
        found.append(Fixture(file.stem, str(data["path"]), headers, data["body"]))
    if not found:
        raise FileNotFoundError(f"no {PATTERN} in {FIXTURES}: `python -m bench.run` captures them (or set BENCH_FIXTURES)")
    return found


def with_model(fixture: Fixture, model: str, stream: bool) -> dict[str, Any]:
    """The captured body for `model`, as Claude Code sends it to a gateway that cannot check auto mode's
    `safeguards` (it retries without them after the gateway's 400; no peer checks them either)."""
    body = {**fixture.body, "model": model, "stream": stream}
    body.pop("safeguards", None)
    return body
