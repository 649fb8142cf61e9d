"""`--log-format json`: one JSON object per log line, for log shippers.

Fields: `ts` (ISO 8601, UTC), `level`, `logger`, `message`, and `exception` (the traceback as
text) when there is one. The messages are the same as in text mode, with every known secret masked (babelgate/redact.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

from babelgate.redact import REDACTOR


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": REDACTOR(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = REDACTOR(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()
