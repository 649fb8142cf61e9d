"""The effective config as the dashboard shows it: every key and token field replaced, URLs with their
credentials masked (babelgate/redact.py), and any known secret masked wherever else it appears."""

from __future__ import annotations

from typing import Any

from babelgate.redact import REDACTOR, url

SECRET_FIELDS = {"api_keys", "admin_key", "metrics_token", "key", "api_key", "secret", "token", "password", "credentials_file"}


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
    if isinstance(data, str):
        return REDACTOR(url(data) if "://" in data else data)
    return data
