"""The pinned client versions, read from the Makefile, their one source.

Standard library only: bench/fixtures.py imports this from LiteLLM's venv too.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["CLAUDE_CODE_VERSION", "CODEX_VERSION", "GEMINI_CLI_VERSION"]

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"
_PINS = dict(re.findall(r"^(\w+_VERSION) := (\S+)$", MAKEFILE.read_text(), re.MULTILINE))

CLAUDE_CODE_VERSION: str = _PINS["CLAUDE_CODE_VERSION"]
CODEX_VERSION: str = _PINS["CODEX_VERSION"]
GEMINI_CLI_VERSION: str = _PINS["GEMINI_CLI_VERSION"]
