"""The config's `observe:` section: the request log's capture and retention, and prices."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from babelgate.config_base import Strict as _Strict


class Price(_Strict):
    """USD per million tokens; cache prices default to the input price."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class RetentionConfig(_Strict):
    days: float = Field(default=14, gt=0)
    max_mb: float = Field(default=512, gt=0)


class ObserveConfig(_Strict):
    capture: Literal["off", "errors", "all"] = "off"  # request and response bodies in the request log
    capture_max_kb: int = Field(default=256, gt=0)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    prices: dict[str, Price] = Field(default_factory=dict)  # by model id or glob, over the shipped table

    @field_validator("capture", mode="before")
    @classmethod
    def _unquoted_off(cls, value: Any) -> Any:
        """`capture: off` written without quotes is YAML's false: the user meant "off"."""
        return "off" if value is False else value
