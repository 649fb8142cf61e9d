"""The base of every config model (unknown keys are errors, not silently ignored), the config's
error, and `${ENV}` interpolation."""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict


class ConfigError(Exception):
    """The config cannot be used; the message names the file and the key path."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
