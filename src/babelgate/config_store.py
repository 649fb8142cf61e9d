"""The config's `store:` section: where state shared by workers and instances lives."""

from __future__ import annotations

import importlib.util
from typing import Literal

from pydantic import Field, model_validator

from babelgate.config_base import Strict as _Strict

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class StoreConfig(_Strict):
    type: Literal["sqlite", "memory", "redis"] = "sqlite"
    path: str | None = None  # sqlite
    key_file: str | None = None  # the key that encrypts stored API keys (default ~/.config/babelgate/store.key)
    url: str = "redis://127.0.0.1:6379/0"  # redis (or Valkey)
    prefix: str = Field(default="babelgate", pattern=r"^[A-Za-z0-9_.:-]+$")  # redis: key and channel prefix
    timeout: float = Field(default=1.0, gt=0, le=60)  # redis: seconds one command may take before Redis counts as down

    @model_validator(mode="after")
    def _redis_usable(self) -> StoreConfig:
        if self.type != "redis":
            return self
        if not self.url.startswith(REDIS_SCHEMES):
            raise ValueError(f"url: expected a redis://, rediss:// or unix:// URL, got {self.url.split('@')[-1]!r}")
        if importlib.util.find_spec("redis") is None:
            raise ValueError("type: redis needs the redis package: pip install 'babelgate[redis]'")
        return self
