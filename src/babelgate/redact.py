"""Keeping secrets out of everything babelgate says: status pages, error bodies, logs.

`url(u)` is a URL fit to show: no password, no user, no query values (`api-version` aside).
`REDACTOR` is the process's set of known secrets (each gateway adds its config's keys, URL
credentials and secret headers when it starts, and every key it loads from the store);
`REDACTOR(text)` replaces each with `****`. The server applies it to every error it answers and
to its status pages, and `RedactingFormatter` to every log line, so a secret that reaches a
message by a path nobody foresaw (an upstream echoing a key, a library naming a URL) is still
not shown.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit, urlunsplit

if TYPE_CHECKING:
    from babelgate.config import Config

MASK = "****"
SHOWN_QUERY = frozenset({"api-version"})  # query parameters that are never secret
MIN_SECRET = 8  # shorter strings are not taken for secrets (they would mask ordinary words)
SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|session|signature", re.IGNORECASE)


def url(value: str) -> str:
    """`value` without its userinfo's secrets or its query values."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = "&".join(f"{k}={v if k in SHOWN_QUERY else MASK}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(value: str) -> list[str]:
    """The secrets a URL carries: its user and password, its query values."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return [value]
    found = [parts.username or "", parts.password or ""]
    found += [v for k, v in parse_qsl(parts.query) if k not in SHOWN_QUERY]
    return found


def config_secrets(config: Config) -> list[str]:
    """Every secret a config holds: client and admin keys, provider keys, URL credentials, secret headers."""
    found = [*(entry.key for entry in config.server.api_keys), config.server.admin_key or ""]
    for provider in config.providers.values():
        found += [spec if isinstance(spec, str) else spec.key for spec in provider.api_keys]
        found += url_secrets(provider.base_url) + url_secrets(provider.proxy_url or "")
        found += [v for k, v in provider.headers.items() if SECRET_HEADER.search(k)]
        found += [v.split(" ", 1)[-1] for k, v in provider.headers.items() if SECRET_HEADER.search(k)]  # `Bearer <token>`
    return found


class Redactor:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        new = {s for s in secrets if len(s) >= MIN_SECRET} - self._secrets
        if new:
            self._secrets |= new
            ordered = sorted(self._secrets, key=len, reverse=True)  # a longer secret before one it contains
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)


REDACTOR = Redactor()


class RedactingFormatter(logging.Formatter):
    """A log formatter whose lines (tracebacks included) never carry a known secret. The time of day
    is formatted once a second (logging's own `formatTime` calls strftime for every line)."""

    _second: int = -1
    _stamp: str = ""

    def format(self, record: logging.LogRecord) -> str:
        return REDACTOR(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime(self.default_time_format, self.converter(second))
        return f"{self._stamp},{int(record.msecs):03d}"  # as logging writes it by default
