"""An outgoing Gemini body's history made acceptable to Gemini (`sanitize`), for the client's own
body on the same-dialect path (the encoder builds clean bodies itself).

A `thoughtSignature` that is another family's envelope (reasoning.py) is taken off its part, and a
thought part that only carried one goes; Gemini 3 wants a signature on the first functionCall of
every model step, so one that has none (another model made the call, or the client lost it) gets
Google's documented placeholder. Nothing else in the body changes.
"""

from __future__ import annotations

from typing import Any

from babelgate.dialects.gemini._wire import SKIP_SIGNATURE, _camel
from babelgate.reasoning import is_envelope


def _clean_parts(parts: list[Any], placeholder: bool) -> list[Any]:
    kept: list[Any] = []
    for raw in parts:
        if not isinstance(raw, dict):
            kept.append(raw)
            continue
        part = _camel(raw)
        if is_envelope(part.get("thoughtSignature")):
            if part.get("thought") is True:
                continue
            part = {k: v for k, v in part.items() if k != "thoughtSignature"}
        kept.append(part if part != raw else raw)
    first_call = next((i for i, p in enumerate(kept) if isinstance(p, dict) and "functionCall" in _camel(p)), None)
    if placeholder and first_call is not None and not _camel(kept[first_call]).get("thoughtSignature"):
        kept[first_call] = {**_camel(kept[first_call]), "thoughtSignature": SKIP_SIGNATURE}
    return kept


def sanitize(body: dict[str, Any], placeholder: bool) -> dict[str, Any]:
    """`body` (camelCase at its top) with its model turns cleaned; `placeholder` for Gemini 3 and later."""
    contents = body.get("contents")
    if not isinstance(contents, list):
        return body
    cleaned: list[Any] = []
    for content in contents:
        parts = content.get("parts") if isinstance(content, dict) and content.get("role") == "model" else None
        if not isinstance(parts, list):
            cleaned.append(content)
            continue
        kept = _clean_parts(parts, placeholder)
        if kept:
            cleaned.append({**content, "parts": kept} if kept != parts else content)
    return {**body, "contents": cleaned}
