"""The captured Claude Code requests in ../shared/fixtures/clients, read at run time, never copied.

Standard library only: the LiteLLM translation timer imports this from LiteLLM's own venv.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("BENCH_FIXTURES", REPO.parent / "shared" / "fixtures" / "clients"))
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
    """Every `claude-code-*.json` capture: one `POST /v1/messages?beta=true` of about 50 KB each."""
    found = []
    for file in sorted(FIXTURES.glob("claude-code-*.json")):
        data = json.loads(file.read_text())
        headers = {str(k): str(v) for k, v in data["headers"] if str(k).lower() not in DROP_HEADERS}
        found.append(Fixture(file.stem, str(data["path"]), headers, data["body"]))
    if not found:
        raise FileNotFoundError(f"no claude-code-*.json fixtures in {FIXTURES} (set BENCH_FIXTURES to their folder)")
    return found


def with_model(fixture: Fixture, model: str, stream: bool) -> dict[str, Any]:
    return {**fixture.body, "model": model, "stream": stream}
