"""What each model can do: context window, output limit, vision, tools, reasoning style.

Three layers, later ones winning field by field: the table shipped in the package
(`models.yaml`), what zero-config discovery read from local servers (`Config.discovered`),
and the config's `models:` section. A layer is a mapping from a model id or a glob to a
`ModelSpec`; an exact id beats a glob, and globs are tried in the order written. A model is
looked up by its id, by the part after a vendor prefix (`openai/gpt-5` on OpenRouter), and
with dots as dashes (`claude-sonnet-4.5`); the config layer also by `provider/model`.

Lookups are cached per (provider, model), so the request path pays for one dict access.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from babelgate import ir, tokens
from babelgate.config import Config, ModelSpec

FIELDS = ("context_window", "max_output", "vision", "tools", "reasoning")
CACHE_SIZE = 4096
MIN_ROOM = 1024  # below this many tokens of room, a clamp would only turn a clear overflow error into a cut-off reply
Layer = list[tuple[str, ModelSpec]]


@dataclass(frozen=True, slots=True)
class Capabilities:
    context_window: int | None = None
    max_output: int | None = None
    vision: bool | None = None
    tools: bool | None = None
    reasoning: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # field -> "table", "discovered" or "config"

    def output_limit(self, request: ir.Request) -> int | None:
        """The largest max_tokens worth sending: the output limit; for a model known only by its context
        window (a local server), what the prompt leaves of it, estimated with a margin. None: no limit known,
        or too little room left to be worth a guess (the server then says the prompt is too long)."""
        if self.max_output is not None or self.context_window is None:
            return self.max_output
        prompt = tokens.estimate(request)
        room = self.context_window - prompt - prompt // 8
        return room if room >= MIN_ROOM else None


@cache
def shipped() -> Layer:
    """The table in the package, parsed once."""
    text = resources.files("babelgate").joinpath("models.yaml").read_text(encoding="utf-8")
    return parse_table(yaml.safe_load(text) or {})


def parse_table(data: Mapping[str, Any]) -> Layer:
    return [(str(pattern), spec if isinstance(spec, ModelSpec) else ModelSpec.model_validate(spec)) for pattern, spec in data.items()]


def _names(model: str) -> list[str]:
    """The spellings a model id is looked up by: as given, then without a vendor prefix, dots as dashes first
    (OpenRouter's `anthropic/claude-opus-4.6` is `claude-opus-4-6`, not any `claude-opus-4*`)."""
    tail = model.rsplit("/", 1)[-1]
    return list(dict.fromkeys((model, tail.replace(".", "-"), tail)))


def match(layer: Layer, names: Iterable[str]) -> ModelSpec | None:
    """The spec of the first name an exact pattern names, else of the first glob that matches one."""
    names = list(names)
    exact = {pattern: spec for pattern, spec in layer if not any(ch in pattern for ch in "*?[")}
    for name in names:
        if name in exact:
            return exact[name]
    for name in names:
        for pattern, spec in layer:
            if pattern not in exact and fnmatch.fnmatchcase(name, pattern):
                return spec
    return None


class Catalog:
    """The merged capability table for one config."""

    def __init__(self, config: Config, table: Layer | None = None) -> None:
        self._table = shipped() if table is None else table
        self._discovered = config.discovered
        self._config: Layer = list(config.models.items())
        self._cache: dict[tuple[str, str], Capabilities] = {}

    def lookup(self, provider: str, model: str) -> Capabilities:
        key = (provider, model)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHE_SIZE:  # clients may name any model of a provider that lists none
                self._cache.clear()
            found = self._cache[key] = self._merge(provider, model)
        return found

    def _merge(self, provider: str, model: str) -> Capabilities:
        names = _names(model)
        layers = (
            ("table", match(self._table, names)),
            ("discovered", self._discovered.get(f"{provider}/{model}")),
            ("config", match(self._config, [f"{provider}/{model}", *names])),
        )
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for source, spec in layers:
            for name in FIELDS if spec is not None else ():
                value = getattr(spec, name)
                if value is not None:
                    values[name], sources[name] = value, source
        return Capabilities(**values, sources=sources)
