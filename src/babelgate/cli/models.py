"""`babelgate models`: every model the running config can route to, with what it can do.

One row per `provider/model` a client can ask for (the models each provider lists, and the
alias targets), with the aliases that lead to it, the provider's type, and the capability
table's entry for it (context window, output limit, vision, tools, reasoning style), each value
marked with where it came from: the shipped table, the config's `models:` section, or what a
local server said (discovered).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from babelgate.capabilities import FIELDS, Capabilities, Catalog
from babelgate.config import Config
from babelgate.errors import GatewayError
from babelgate.routing.models import ModelResolver, Target

ANY_MODEL = "<any model>"


@dataclass(slots=True)
class Row:
    provider: str
    model: str
    type: str
    capabilities: Capabilities
    aliases: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}"


def _alias_targets(config: Config, resolver: ModelResolver) -> dict[Target, list[str]]:
    """Each target, with the aliases (and glob aliases) that route to it; a fallback is marked so."""
    by_target: dict[Target, list[str]] = {}
    for alias in config.aliases:
        try:
            targets, _ = resolver.resolve(alias)  # a glob alias matches its own pattern
        except GatewayError:
            continue
        for position, target in enumerate(targets):
            by_target.setdefault(target, []).append(alias if position == 0 else f"{alias} (fallback)")
    return by_target


def rows(config: Config, catalog: Catalog | None = None) -> list[Row]:
    catalog = catalog or Catalog(config)
    aliases = _alias_targets(config, ModelResolver(config))
    targets = [Target(name, model) for name, provider in config.providers.items() for model in provider.models]
    targets += [t for t in aliases if t not in targets]
    out = [
        Row(t.provider, t.model, config.providers[t.provider].type, catalog.lookup(t.provider, t.model), aliases.get(t, []))
        for t in targets
    ]
    out += [Row(name, ANY_MODEL, p.type, Capabilities()) for name, p in config.providers.items() if not p.models]
    return out


def _number(value: int | None) -> str:
    return f"{value:,}" if value is not None else "?"


def _flag(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def sources(capabilities: Capabilities) -> str:
    """Where the values came from: `table`, or `table; config: max_output` when some came from elsewhere."""
    by_source: dict[str, list[str]] = {}
    for name in FIELDS:
        if name in capabilities.sources:
            by_source.setdefault(capabilities.sources[name], []).append(name)
    if not by_source:
        return "unknown"
    main = max(by_source, key=lambda s: len(by_source[s]))
    rest = [f"{source}: {', '.join(names)}" for source, names in by_source.items() if source != main]
    return "; ".join([main, *rest])


def table(found: Iterable[Row]) -> Table:
    grid = Table(title="Models this config routes to", title_justify="left")
    for column in ("model", "aliases", "type", "context", "max output", "vision", "tools", "reasoning", "from"):
        grid.add_column(column, justify="right" if column in ("context", "max output") else "left", overflow="fold")
    for row in found:
        caps = row.capabilities
        grid.add_row(
            row.name,
            ", ".join(row.aliases),
            row.type,
            _number(caps.context_window),
            _number(caps.max_output),
            _flag(caps.vision),
            _flag(caps.tools),
            caps.reasoning or "?",
            sources(caps),
        )
    return grid


def show(config: Config, console: Console | None = None) -> None:
    (console or Console(soft_wrap=False)).print(table(rows(config)))
