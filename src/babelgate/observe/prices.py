"""What a request cost: tokens times the price table (`prices.yaml` in the package, then `observe.prices`).

A model is priced by the id the upstream served, tried as written and without a vendor prefix
(`anthropic/claude-sonnet-4-5` on OpenRouter, `us.anthropic.claude-...` on Bedrock). Unknown models
cost 0 (a local server, or a price nobody set). Lookups are cached per model id.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import resources

import yaml

from babelgate import ir
from babelgate.config_observe import Price

PER = 1_000_000
_VENDOR = re.compile(r"^(?:[a-z]{2,4}\.)?[a-z]+\.")  # Bedrock's `us.anthropic.`, `anthropic.`, `amazon.`


@cache
def shipped() -> dict[str, Price]:
    text = resources.files("babelgate").joinpath("prices.yaml").read_text(encoding="utf-8")
    return {str(k): Price.model_validate(v) for k, v in (yaml.safe_load(text) or {}).items()}


class PriceTable:
    def __init__(self, overrides: Mapping[str, Price]) -> None:
        self.layers = [dict(overrides), shipped()]
        self.price = lru_cache(maxsize=4096)(self._lookup)

    def _lookup(self, model: str) -> Price | None:
        bare = model.rsplit("/", 1)[-1]
        names = list(dict.fromkeys([model, bare, _VENDOR.sub("", bare)]))
        for layer in self.layers:
            for name in names:
                if name in layer:
                    return layer[name]
            for name in names:
                for pattern, price in layer.items():
                    if fnmatch.fnmatchcase(name, pattern):
                        return price
        return None

    def cost(self, model: str, usage: ir.Usage) -> float:
        price = self.price(model)
        if price is None:
            return 0.0
        cache_read = price.input if price.cache_read is None else price.cache_read
        cache_write = price.input if price.cache_write is None else price.cache_write
        total = (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
        )
        return total / PER
