"""The config's `server:` section: where the gateway listens, who may use it, and how long clients may take."""

from __future__ import annotations

from pydantic import Field, field_validator

from babelgate.config_base import Strict as _Strict
from babelgate.config_keys import ClientKey, as_entries, check_unique

DEFAULT_PORT = 8318


class ClientTimeouts(_Strict):
    """Seconds a client has to send a request's head (request line and headers), then its body: else a 408."""

    headers: float = Field(default=10.0, gt=0)
    body: float = Field(default=30.0, gt=0)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    api_keys: list[ClientKey] = Field(default_factory=list)  # config_keys.py: a plain key, or one with a name and limits
    admin_key: str | None = None
    metrics_token: str | None = None  # opens /metrics alone (for a Prometheus scraper), beside the admin key
    watch_config: bool = True  # reload the config file when it changes (server/reload.py)
    max_body_mb: float = Field(default=64.0, gt=0)
    allow_public: bool = False  # a non-loopback host without api_keys is refused unless true (or --allow-public)
    client_timeouts: ClientTimeouts = Field(default_factory=ClientTimeouts)

    _entries = field_validator("api_keys", mode="before", json_schema_input_type=list[str | ClientKey])(as_entries)
    _unique = field_validator("api_keys")(check_unique)
