"""The config's `routing:` section: the credential strategy, the wait for a cooling key, and scenarios."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from babelgate.config_base import Strict as _Strict

Strategy = Literal["round-robin", "fill-first", "sticky", "hybrid"]


class LongContextScenario(_Strict):
    threshold: int = Field(default=60_000, gt=0)  # estimated prompt tokens above which the request is long
    target: str


class ScenariosConfig(_Strict):
    """routing/scenarios.py: the model for each kind of request (unset: that kind routes as it names)."""

    background: str | None = None
    think: str | None = None
    long_context: LongContextScenario | None = None
    image: str | None = None
    web_search: str | None = None
    subagent: str | None = None


class RoutingConfig(_Strict):
    strategy: Strategy = "round-robin"
    max_wait: float = Field(default=10.0, ge=0)
    scenarios: ScenariosConfig = Field(default_factory=ScenariosConfig)
