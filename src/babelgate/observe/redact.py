"""The effective config as the dashboard shows it: every key, token and URL credential replaced."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_FIELDS = {"api_keys", "admin_key", "metrics_token", "key", "api_key", "secret", "token", "password", "credentials_file"}
SECRET_QUERY = re.compile(r"key|token|secret|sig|password|auth", re.I)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" if parts.username or parts.password else host
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode([(k, "***" if SECRET_QUERY.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secret(value: Any) -> Any:
    if isinstance(value, str):
        return "***" if len(value) <= 8 else f"{value[:3]}***{value[-2:]}"
    if isinstance(value, list):
        return [_secret(v) for v in value]
    if isinstance(value, dict):
        return {k: (_secret(v) if k in ("key", "api_key") else v) for k, v in value.items()}
    return value


def redact(data: Any) -> Any:
    """A copy of `data` (plain JSON values) with secrets replaced; URLs keep host and path only."""
    if isinstance(data, dict):
        return {k: _secret(v) if k in SECRET_FIELDS and v else redact(v) for k, v in data.items()}
    if isinstance(data, list):
        return [redact(v) for v in data]
    if isinstance(data, str) and "://" in data:
        return redact_url(data)
    return data
