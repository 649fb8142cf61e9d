"""Small type checks for wire JSON that raise `BadRequest` naming the offending field."""

from __future__ import annotations

import binascii
from typing import Any, TypeVar

from babelgate.errors import BadRequest

T = TypeVar("T")

_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return _NAMES.get(type(value), type(value).__name__)


def field(obj: dict[str, Any], key: str, kind: type[T], path: str, *, required: bool = False) -> T | None:
    """`obj[key]` if it has type `kind`; None when absent (or null) and not required."""
    value = obj.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        if required:
            raise BadRequest(where, "field required")
        return None
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)  # type: ignore[return-value]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(where, f"expected {_NAMES.get(kind, kind.__name__)}, got {_describe(value)}")
    return value


def need(obj: dict[str, Any], key: str, kind: type[T], path: str) -> T:
    value = field(obj, key, kind, path, required=True)
    assert value is not None
    return value


def items(value: list[Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Each element of an array of objects, with its path."""
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(value):
        where = f"{path}.{i}"
        if not isinstance(item, dict):
            raise BadRequest(where, f"expected an object, got {_describe(item)}")
        out.append((where, item))
    return out


def one_of(value: str, allowed: tuple[str, ...], path: str) -> str:
    if value not in allowed:
        raise BadRequest(path, f"expected one of {', '.join(allowed)}, got {value!r}")
    return value


_URLSAFE = str.maketrans("-_", "+/")


def base64(value: str, path: str) -> str:
    """`value` if it is base64 (standard or URL-safe alphabet, padding optional, as Gemini accepts)."""
    stripped = value.rstrip("=")
    if not stripped:
        raise BadRequest(path, "base64 data is empty")
    try:
        if len(stripped) % 4 == 1:
            raise binascii.Error("truncated")
        binascii.a2b_base64(stripped.translate(_URLSAFE) + "=" * (-len(stripped) % 4), strict_mode=True)
    except binascii.Error:
        raise BadRequest(path, "is not valid base64 data") from None
    return value
