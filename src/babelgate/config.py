"""The config file: pydantic schema, YAML loading, `${ENV}` interpolation.

Every key is documented in docs/configuration.md. Validation errors name the key path,
for example `providers.openai.type: unknown provider type 'opneai'; expected one of 'openai', ...`.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import re
import ssl
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from babelgate.config_base import ConfigError as ConfigError  # re-exported: the config's one error
from babelgate.config_base import Strict as _Strict
from babelgate.config_base import interpolate as interpolate
from babelgate.config_observe import ObserveConfig
from babelgate.config_routing import RoutingConfig, Strategy
from babelgate.config_server import ServerConfig
from babelgate.config_store import StoreConfig
from babelgate.config_upstream import DEFAULT_UPSTREAM, Limits, TimeoutOverrides, UpstreamConfig, migrate_legacy, resolve
from babelgate.provider_presets import PRESETS
from babelgate.registry import BUILTIN_ADDONS, UPSTREAM_TYPES

OPTIONAL_BASE_URL = frozenset({"bedrock", "vertex"})  # types that derive `base_url` when it is left out
BEARER_TYPES = frozenset({"openai", "openai-responses", "bedrock"})  # their keys travel in the Authorization header
ReasoningStyle = Literal["none", "effort", "budget", "builtin"]
_FIELD_PATH = re.compile(r"(messages\[\]\.)?[A-Za-z_][A-Za-z0-9_]*")  # `name` or `messages[].name`
PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://", "socks4://")


class KeySpec(_Strict):
    key: str = Field(min_length=1)
    name: str | None = None
    weight: int = Field(default=1, ge=1)
    priority: int = 0


class ProviderConfig(_Strict):
    preset: str | None = None  # a provider_presets.py name: its type, base_url and settings are the defaults
    type: str = "openai"  # a key of registry.py UPSTREAM_TYPES
    base_url: str = ""  # required, except for the OPTIONAL_BASE_URL types
    api_keys: list[str | KeySpec] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    max_tokens: int | dict[str, int] | None = None
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    reasoning_effort: bool = False
    echo_reasoning: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    timeouts: TimeoutOverrides = Field(default_factory=TimeoutOverrides)  # over `upstream.timeouts`
    max_connections: int | None = Field(default=None, ge=1)  # None: `upstream.max_connections`, and so on
    max_response_mb: float | None = Field(default=None, gt=0)
    max_event_mb: float | None = Field(default=None, gt=0)
    keepalive: float | None = Field(default=None, ge=0)
    strategy: Strategy | None = None
    api_version: str | None = None  # azure-openai: the dated API's api-version; none means the v1 API
    region: str | None = None  # bedrock: the AWS region
    profile: str | None = None  # bedrock: the AWS profile; None: the standard credential chain
    drop_fields: list[str] = Field(default_factory=list)  # openai: request fields the upstream rejects
    rename_fields: dict[str, str] = Field(default_factory=dict)  # openai: request fields the upstream spells otherwise
    tool_call_ids: Literal["any", "alnum9"] = "any"  # openai: alnum9 rewrites tool-call ids to 9 letters and digits
    reasoning_field: Literal["reasoning_effort", "reasoning"] = "reasoning_effort"  # openai: how requested reasoning is sent
    defer_tools: bool | None = None  # anthropic: the upstream takes defer_loading / tool_reference; None: only api.anthropic.com
    auto_stream: bool = False  # ask for a stream even when the client did not, and answer it whole (providers/http.py)

    _limits: Limits | None = PrivateAttr(default=None)  # set by `Config` from its `upstream:` section

    @property
    def limits(self) -> Limits:
        """Timeouts and sizes for this provider: its own keys over the `upstream:` defaults."""
        if self._limits is None:
            self._limits = resolve(DEFAULT_UPSTREAM, self)
        return self._limits

    @model_validator(mode="before")
    @classmethod
    def _legacy_timeouts(cls, data: Any) -> Any:
        return migrate_legacy(data) if isinstance(data, dict) else data

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        """A known `preset` fills in what the provider leaves out. Headers merge, the provider's winning;
        one it sets to "" is not sent."""
        name = data.get("preset") if isinstance(data, dict) else None
        preset = PRESETS.get(name) if isinstance(name, str) else None
        if preset is None:  # no preset, or an unknown one (`_known_preset` says so)
            return data
        merged = {**preset.defaults, **data}
        own = data.get("headers", {})
        if isinstance(own, dict) and "headers" in preset.defaults:
            merged["headers"] = {k: v for k, v in {**preset.defaults["headers"], **own}.items() if v != ""}
        return merged

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; expected one of {', '.join(repr(p) for p in PRESETS)}")
        return value

    @field_validator("drop_fields", "rename_fields")
    @classmethod
    def _field_paths(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        """Fields are `name` (top level) or `messages[].name` (on each message); a new name is a bare name."""
        for name in value:
            if not _FIELD_PATH.fullmatch(name):
                raise ValueError(f"{name!r} is not a request field: write `name` or `messages[].name`")
        for new in value.values() if isinstance(value, dict) else ():
            if not _FIELD_PATH.fullmatch(new) or new.startswith("messages[]."):
                raise ValueError(f"{new!r} is not a field name: a field is renamed in place, as `{{seed: random_seed}}`")
        return value

    deployments: dict[str, str] = Field(default_factory=dict)  # azure-openai*: model name -> deployment name
    entra_scope: str | None = None  # the Microsoft Entra ID scope a keyless provider gets tokens for
    proxy_url: str | None = None  # outbound proxy: http://, https://, socks5:// (aiohttp-socks)
    ca_bundle: str | None = None  # a PEM file of the CAs trusted for this provider's TLS
    project: str | None = None  # vertex: the Google Cloud project
    location: str = "global"  # vertex: `global` or a region such as us-east5
    credentials_file: str | None = None  # vertex: a service-account JSON; default: Application Default Credentials

    @field_validator("headers")
    @classmethod
    def _header_values(cls, value: dict[str, str]) -> dict[str, str]:
        """A CR or LF in a header would split the request (aiohttp refuses to send it, so every request would fail)."""
        for name, text in value.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"{name!r} is not a valid header name")
            if any(c in text for c in "\r\n\0"):
                raise ValueError(f"{name}: a header value may not contain CR, LF or NUL")
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in UPSTREAM_TYPES:
            raise ValueError(f"unknown provider type {value!r}; expected one of {', '.join(repr(t) for t in UPSTREAM_TYPES)}")
        return value

    @field_validator("api_version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        """YAML reads an unquoted `2024-10-21` as a date."""
        return value.isoformat() if isinstance(value, datetime.date) else value

    @field_validator("base_url", mode="before")
    @classmethod
    def _strip_slash(cls, value: Any) -> Any:
        if value is None:
            return ""
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("proxy_url")
    @classmethod
    def _proxy_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(PROXY_SCHEMES):
            raise ValueError(f"must start with {', '.join(PROXY_SCHEMES)}")
        if value is not None and value.startswith("socks") and importlib.util.find_spec("aiohttp_socks") is None:
            raise ValueError("a SOCKS proxy needs the aiohttp-socks package: pip install 'babelgate[socks]'")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle_loads(cls, value: str | None) -> str | None:
        """The file must hold PEM certificates Python's ssl accepts (checked once, here)."""
        if value is None:
            return None
        path = os.path.expanduser(value)
        try:
            ssl.create_default_context(cafile=path)
        except (OSError, ssl.SSLError) as error:
            raise ValueError(f"cannot load CA certificates from {value}: {getattr(error, 'strerror', None) or error}") from None
        return path

    @model_validator(mode="after")
    def _base_url_given(self) -> ProviderConfig:
        if not self.base_url and self.type not in OPTIONAL_BASE_URL:
            raise ValueError("base_url: field required")
        if "@" in self.base_url.partition("://")[2].partition("/")[0] and self.api_keys and self.type in BEARER_TYPES:
            raise ValueError("base_url: a user and password in the URL and api_keys would both set the Authorization header; use one")
        if self.type == "vertex" and not self.project:
            raise ValueError("project is required for type 'vertex'")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", self.location):
            raise ValueError(f"location {self.location!r} is not a Google Cloud location (global, us-east5, europe-west1, ...)")
        if self.type == "vertex" and self.api_keys:
            raise ValueError("type 'vertex' takes Google credentials (credentials_file, or Application Default Credentials), not api_keys")
        return self


class ModelSpec(_Strict):
    """What a model can do: the shipped table (models.yaml), the config's `models:` section, or discovery."""

    context_window: int | None = Field(default=None, gt=0)
    max_output: int | None = Field(default=None, gt=0)
    vision: bool | None = None
    tools: bool | None = None
    reasoning: ReasoningStyle | None = None


class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    aliases: dict[str, str | list[str]] = Field(default_factory=dict)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    addons: dict[str, bool | dict[str, Any]] = Field(default_factory=dict)  # on/off, or on with options
    models: dict[str, ModelSpec] = Field(default_factory=dict)  # capabilities by model id or glob, over the shipped table
    observe: ObserveConfig = Field(default_factory=ObserveConfig)
    _discovered: dict[str, ModelSpec] = PrivateAttr(default_factory=dict)  # what local servers said, by provider/model
    _source: Path | None = PrivateAttr(default=None)  # the file it was loaded from, which a reload reads again

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def discovered(self) -> dict[str, ModelSpec]:
        """Capabilities that zero-config discovery read from local servers, by `provider/model` (never from the file)."""
        return self._discovered

    @model_validator(mode="after")
    def _provider_limits(self) -> Config:
        """Each provider's limits, resolved once over the `upstream:` defaults."""
        for provider in self.providers.values():
            provider._limits = resolve(self.upstream, provider)
        return self

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


_UNION_TAG = re.compile(r"str|int|float|bool|none|KeySpec|(dict|list|literal|function-\w+)\[.*\]")  # pydantic's union-member loc parts


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"] if not _UNION_TAG.fullmatch(str(p)))
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
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    config = parse(data, str(path))
    config._source = path.resolve()
    return config


def find_path(explicit: str | None) -> Path | None:
    """`--config`, then `BABELGATE_CONFIG`, then `~/.config/babelgate/config.yaml`."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("BABELGATE_CONFIG"):
        return Path(os.environ["BABELGATE_CONFIG"]).expanduser()
    default = Path.home() / ".config" / "babelgate" / "config.yaml"
    return default if default.exists() else None
