"""The config file: pydantic schema, YAML loading, `${ENV}` interpolation.

Every key is documented in docs/configuration.md. Validation errors name the key path,
for example `providers.openai.type: unknown provider type 'opneai'; expected one of 'openai', ...`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from babelgate.registry import BUILTIN_ADDONS, UPSTREAM_TYPES

Strategy = Literal["round-robin", "fill-first", "sticky", "hybrid"]
DEFAULT_PORT = 8318
DEFAULT_BASE_URL_TYPES = frozenset({"vertex"})  # provider types that know their endpoint without `base_url`


class ConfigError(Exception):
    """The config cannot be used; the message names the file and the key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeySpec(_Strict):
    key: str = Field(min_length=1)
    name: str | None = None
    weight: int = Field(default=1, ge=1)
    priority: int = 0


class ProviderConfig(_Strict):
    type: str = "openai"  # a key of registry.py UPSTREAM_TYPES
    base_url: str = ""  # required except for DEFAULT_BASE_URL_TYPES
    api_keys: list[str | KeySpec] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    max_tokens: int | dict[str, int] | None = None
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    reasoning_effort: bool = False
    echo_reasoning: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=600.0, gt=0)
    strategy: Strategy | None = None
    project: str | None = None  # vertex: the Google Cloud project
    location: str = "global"  # vertex: `global` or a region such as us-east5
    credentials_file: str | None = None  # vertex: a service-account JSON; default: Application Default Credentials

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in UPSTREAM_TYPES:
            raise ValueError(f"unknown provider type {value!r}; expected one of {', '.join(repr(t) for t in UPSTREAM_TYPES)}")
        return value

    @field_validator("base_url", mode="before")
    @classmethod
    def _null_is_unset(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _family_keys(self) -> ProviderConfig:
        if not self.base_url and self.type not in DEFAULT_BASE_URL_TYPES:
            raise ValueError(f"base_url is required for type {self.type!r}")
        if self.type == "vertex" and not self.project:
            raise ValueError("project is required for type 'vertex'")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", self.location):
            raise ValueError(f"location {self.location!r} is not a Google Cloud location (global, us-east5, europe-west1, ...)")
        if self.type == "vertex" and self.api_keys:
            raise ValueError("type 'vertex' takes Google credentials (credentials_file, or Application Default Credentials), not api_keys")
        return self


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    api_keys: list[str] = Field(default_factory=list)
    admin_key: str | None = None
    max_body_mb: float = Field(default=64.0, gt=0)


class RoutingConfig(_Strict):
    strategy: Strategy = "round-robin"
    max_wait: float = Field(default=10.0, ge=0)


class StoreConfig(_Strict):
    type: Literal["sqlite", "memory"] = "sqlite"
    path: str | None = None  # sqlite


class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    aliases: dict[str, str | list[str]] = Field(default_factory=dict)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    addons: dict[str, bool | dict[str, Any]] = Field(default_factory=dict)  # on/off, or on with options

    @field_validator("addons")
    @classmethod
    def _addon_names(cls, value: dict[str, bool | dict[str, Any]]) -> dict[str, bool | dict[str, Any]]:
        for name in value:
            if name not in BUILTIN_ADDONS and ":" not in name:
                known = ", ".join(BUILTIN_ADDONS)
                raise ValueError(f"unknown addon {name!r}; built-in addons are {known}, others are named 'module:Class'")
        return value

    @field_validator("providers")
    @classmethod
    def _names(cls, value: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"provider name {name!r} may use letters, digits, '_', '.', '-' (it becomes a model prefix)")
        return value


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, path: str = "") -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string of the YAML tree."""
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}.{i}") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if os.environ.get(name):
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set")

    return _ENV.sub(substitute, value)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"] if not str(p).startswith(("str", "KeySpec", "int", "dict", "list")))
        lines.append(f"  {path or '(top level)'}: {item['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def parse(data: Any, source: str = "config") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return Config.model_validate(interpolate(data))
    except ValidationError as error:
        raise ConfigError(f"{source} is not valid:\n{_describe(error)}") from None
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def load(path: Path) -> Config:
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    return parse(data, str(path))


def find_path(explicit: str | None) -> Path | None:
    """`--config`, then `BABELGATE_CONFIG`, then `~/.config/babelgate/config.yaml`."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("BABELGATE_CONFIG"):
        return Path(os.environ["BABELGATE_CONFIG"]).expanduser()
    default = Path.home() / ".config" / "babelgate" / "config.yaml"
    return default if default.exists() else None
