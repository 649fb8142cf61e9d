"""The model ids the Anthropic-shaped `/v1/models` publishes, and the names they route back to.

Claude Code keeps only ids that contain `claude` or `anthropic` (measured with 2.1.328), so
every routable name gets one: a name that already passes that filter and has no `/` stays as it
is (an alias such as `claude-opus-5-5`), as does a provider's own such model (`ant/claude-sonnet-4-5`
is `claude-sonnet-4-5`); any other becomes
`claude-<name>` with `/` as `-` (`up/gpt-5` is `claude-up-gpt-5`, the alias `fast` is
`claude-fast`). A model whose context window reaches a million tokens carries `[1m]`, the
suffix Claude Code reads as a 1M window (it drops the suffix before it sends the id back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LONG_CONTEXT = 1_000_000
LONG_SUFFIX = "[1m]"
_PASSES = re.compile(r"claude|anthropic", re.I)
_UNSAFE = re.compile(r"[\s/]+")


def published_id(name: str) -> str:
    """The id `name` is published under, before any `[1m]`."""
    if _PASSES.search(name) and "/" not in name:
        return name
    provider, _, model = name.partition("/")
    if provider and _PASSES.search(model) and "/" not in model:
        return model  # a provider's own Claude model keeps its id: Claude Code knows it
    return "claude-" + _UNSAFE.sub("-", name).strip("-")


def with_window(model_id: str, context_window: int | None) -> str:
    return f"{model_id}{LONG_SUFFIX}" if context_window is not None and context_window >= LONG_CONTEXT else model_id


def without_window(model_id: str) -> str:
    """`model_id` without a trailing `[1m]` (any case)."""
    return model_id[: -len(LONG_SUFFIX)] if model_id.lower().endswith(LONG_SUFFIX) else model_id


def published(names: Iterable[str]) -> dict[str, str]:
    """Published id (without `[1m]`) -> the name it stands for; the first name to claim an id keeps it."""
    out: dict[str, str] = {}
    for name in names:
        out.setdefault(published_id(name), name)
    return out
