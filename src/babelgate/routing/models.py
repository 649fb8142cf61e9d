"""Model names to ordered upstream targets.

Looked up in this order: an exact alias, `provider/model`, a bare upstream id that a
provider lists, an id the Anthropic-shaped `/v1/models` publishes (`claude-up-gpt-5`,
routing/published.py), then glob aliases in the order they are written. A trailing `[1m]`
(Claude Code's mark of a 1M-token window) is ignored when the name without it is known. A trailing variant
such as `gpt-5(high)`, `gpt-5(8192)` or `gpt-5(none)` sets the reasoning effort or budget.
An alias that is a list is a fallback chain.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from babelgate import ir
from babelgate.config import Config
from babelgate.errors import GatewayError, Kind
from babelgate.routing.published import published, without_window

LEVELS: tuple[ir.EffortLevel, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_VARIANT = re.compile(r"^(?P<name>.+?)\((?P<variant>[A-Za-z]+|\d+)\)$")


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


def split_variant(name: str) -> tuple[str, ir.Reasoning | None]:
    match = _VARIANT.match(name)
    if not match:
        return name, None
    variant = match.group("variant").lower()
    if variant.isdigit():
        budget = int(variant)
        return match.group("name"), ir.Reasoning(effort="none" if budget == 0 else None, budget=budget or None)
    if variant not in LEVELS:
        raise GatewayError(400, Kind.INVALID_REQUEST, f"model variant ({variant}) is not one of {', '.join(LEVELS)} or a token budget")
    return match.group("name"), ir.Reasoning(effort=variant)


class ModelResolver:
    def __init__(self, config: Config) -> None:
        self._providers = {name: p.models for name, p in config.providers.items()}
        self._exact: dict[str, list[str]] = {}
        self._globs: list[tuple[str, list[str]]] = []
        for name, targets in config.aliases.items():
            chain = [targets] if isinstance(targets, str) else list(targets)
            if any(ch in name for ch in "*?["):
                self._globs.append((name, chain))
            else:
                self._exact[name] = chain
        self._owners: dict[str, list[str]] = {}
        for provider, models in self._providers.items():
            for model in models:
                self._owners.setdefault(model, []).append(provider)
        self.published = published(self.listing())  # published id -> the name it routes to

    def resolve(self, requested: str) -> tuple[list[Target], ir.Reasoning | None]:
        name, reasoning = split_variant(requested)
        bare = without_window(name)  # a published `[1m]` id comes back without it, or with it from other clients
        first = bare if bare != name and bare in self.published else name
        targets = self._lookup(first, depth=0) or self._lookup(bare, depth=0)
        if not targets:
            raise GatewayError(
                404,
                Kind.NOT_FOUND,
                f"model {requested!r} is not configured. Available: {', '.join(self.available()) or '(none: add a provider)'}",
                code="model_not_found",
                headers={"x-should-retry": "false"},
            )
        return list(dict.fromkeys(targets)), reasoning

    def _lookup(self, name: str, depth: int) -> list[Target]:
        if depth > 4:
            return []
        if name in self._exact:
            return self._expand(self._exact[name], depth)
        direct = self._direct(name)
        if direct:
            return direct
        if name in self.published and self.published[name] != name:
            return self._lookup(self.published[name], depth + 1)
        for pattern, chain in self._globs:
            if fnmatch.fnmatchcase(name, pattern):
                return self._expand(chain, depth)
        return []

    def _direct(self, name: str) -> list[Target]:
        provider, slash, model = name.partition("/")
        if slash and provider in self._providers:
            models = self._providers[provider]
            if not models or model in models:
                return [Target(provider, model)]
        return [Target(p, name) for p in self._owners.get(name, [])]

    def _expand(self, chain: list[str], depth: int) -> list[Target]:
        out: list[Target] = []
        for item in chain:
            found = self._lookup(item, depth + 1)
            if not found and "/" in item and item.split("/", 1)[0] in self._providers:
                provider, _, model = item.partition("/")
                found = [Target(provider, model)]
            out.extend(found)
        return out

    def available(self) -> list[str]:
        names = list(self._exact) + [pattern for pattern, _ in self._globs]
        for provider, models in self._providers.items():
            names.extend(f"{provider}/{m}" for m in models)
            if not models:
                names.append(f"{provider}/<any model>")
        return names

    def listing(self) -> list[str]:
        """Concrete names for /v1/models: exact aliases and provider models."""
        names = list(self._exact)
        for provider, models in self._providers.items():
            names.extend(f"{provider}/{m}" for m in models)
        return list(dict.fromkeys(names))
