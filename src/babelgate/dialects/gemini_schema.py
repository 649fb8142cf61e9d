"""JSON Schema to and from Gemini's `Schema` (the OpenAPI 3.0 subset used by `parameters`).

`clean_schema` turns an arbitrary JSON Schema (what MCP servers, Claude Code and Codex
send) into something Gemini accepts as a functionDeclaration's `parameters`:

- `$ref` into `$defs` / `definitions` (or any `#/...` pointer) is inlined; a reference to a
  schema already being expanded is cut and said so in the description.
- `allOf` is merged; `anyOf` / `oneOf` keeps its best branch (a null branch becomes
  `nullable`, the richest object wins) and names the other accepted types in the description.
- `type: [..., "null"]` becomes one type plus `nullable: true`; `const` becomes a one-value enum;
  non-string enums become a description note.
- Keywords Gemini rejects but that carry meaning (pattern, default, examples, exclusive bounds,
  multipleOf, unsupported formats...) are appended to the description instead of vanishing.
- `required` is trimmed to the properties that exist. Placeholder properties are never invented:
  a property-less object keeps no type (nested) and the caller omits an empty root.

`to_json_schema` goes the other way, for schemas a Gemini client sends in `parameters` or
`responseSchema` (upper-case types, `nullable`, int64 bounds given as strings).
"""

from __future__ import annotations

from typing import Any

import orjson

SUPPORTED = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "items", "properties", "required",
        "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "minProperties", "maxProperties",
    }
)  # fmt: skip
DESCRIBED = {
    "pattern": "Pattern",
    "default": "Default",
    "examples": "Examples",
    "example": "Example",
    "exclusiveMinimum": "Exclusive minimum",
    "exclusiveMaximum": "Exclusive maximum",
    "multipleOf": "Multiple of",
    "uniqueItems": "Unique items",
    "minContains": "Min contains",
    "maxContains": "Max contains",
    "dependentRequired": "Dependent required",
    "contentMediaType": "Content media type",
    "contentEncoding": "Content encoding",
}
FORMATS = {"STRING": {"enum", "date-time"}, "NUMBER": {"float", "double"}, "INTEGER": {"int32", "int64"}}
TYPE_RANK = {"OBJECT": 50, "ARRAY": 40, "INTEGER": 25, "NUMBER": 20, "STRING": 15, "BOOLEAN": 10}
MAX_DEPTH = 24
MAX_NODES = 5000  # refs shared in a DAG may still fan out: past this many nodes the rest is described, not expanded


def _note(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # e.g. an integer beyond 64 bits
        return str(value)


def _add_description(out: dict[str, Any], *notes: str) -> None:
    text = " ".join(n for n in notes if n)
    if text:
        out["description"] = f"{out['description']} ({text})" if out.get("description") else text


class _Cleaner:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.budget = MAX_NODES

    def _lookup(self, ref: str) -> dict[str, Any] | None:
        if not ref.startswith("#"):
            return None
        node: Any = self.root
        for token in ref[1:].split("/")[1:] if ref != "#" else []:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node.get(token) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else None

    def resolve(self, node: Any, stack: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Inline `$ref` chains; returns the node and the refs being expanded."""
        if not isinstance(node, dict):
            return {}, stack
        while isinstance(node.get("$ref"), str):
            ref: str = node["$ref"]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            target = self._lookup(ref)
            name = ref.rsplit("/", 1)[-1] if ref != "#" else "the whole schema"
            if target is None or ref in stack or len(stack) >= MAX_DEPTH:
                cut: dict[str, Any] = {k: v for k, v in siblings.items() if k in ("description", "title")}
                kind = target.get("type") if target is not None else None
                if isinstance(kind, str) and kind != "object":
                    cut["type"] = kind
                why = f"Recursive reference: same shape as {name}." if target is not None else f"Unresolved reference {ref}."
                _add_description(cut, why)
                return cut, stack
            node, stack = {**target, **siblings}, (*stack, ref)
        return node, stack

    def clean(self, node: Any, stack: tuple[str, ...] = (), depth: int = 0) -> dict[str, Any]:
        node, stack = self.resolve(node, stack)
        self.budget -= 1
        if depth > MAX_DEPTH or self.budget < 0:
            return {k: v for k, v in node.items() if k == "description"}
        notes: list[str] = []
        for _ in range(MAX_DEPTH):
            if isinstance(node.get("allOf"), list):
                node, stack = self._merge_all(node, stack)
            elif isinstance(node.get("anyOf"), list) or isinstance(node.get("oneOf"), list):
                node, stack = self._pick(node, "anyOf" if isinstance(node.get("anyOf"), list) else "oneOf", stack, notes)
            else:
                break
        out: dict[str, Any] = {}
        nullable = self._type(node, out, notes)
        self._values(node, out, notes)
        if out.pop("_null", False) or nullable:
            out["nullable"] = True
        kind = out.get("type")
        if isinstance(node.get("properties"), dict) and (kind in (None, "OBJECT")):
            props = {str(k): self.clean(v, stack, depth + 1) for k, v in node["properties"].items()}
            if props:
                out["type"], out["properties"] = "OBJECT", props
                required = [r for r in node.get("required") or [] if r in props]
                if required:
                    out["required"] = list(dict.fromkeys(required))
        if "items" in node and out.get("type") in (None, "ARRAY"):
            out["type"] = "ARRAY"
            out["items"] = self.clean(
                node["items"] if not isinstance(node["items"], list) else (node["items"] or [{}])[0], stack, depth + 1
            )
        for key, value in node.items():
            if key in SUPPORTED and key not in ("type", "enum", "properties", "required", "items", "format", "nullable", "description"):
                if not isinstance(value, (dict, list)):
                    out[key] = value
            elif key in DESCRIBED:
                notes.append(f"{DESCRIBED[key]}: {_note(value)}.")
        self._extras(node, notes)
        if out.get("type") == "OBJECT" and "properties" not in out:
            del out["type"]
            notes.append("Any JSON object.")
        description = node.get("description")
        if isinstance(description, str) and description:
            out["description"] = description
        _add_description(out, *notes)
        return {k: out[k] for k in sorted(out, key=_key_order)}

    def _merge_all(self, node: dict[str, Any], stack: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The allOf branches merged, and the stack grown by every ref they expanded (so none re-expands below)."""
        merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
        expanded = stack
        for branch in node["allOf"]:
            part, part_stack = self.resolve(branch, stack)
            if isinstance(part.get("allOf"), list):
                part, part_stack = self._merge_all(part, part_stack)
            expanded = (*expanded, *(ref for ref in part_stack if ref not in expanded))
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    existing = merged.get("properties") or {}
                    merged["properties"] = {**existing, **{k: v for k, v in value.items() if k not in existing}}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = list(dict.fromkeys([*(merged.get("required") or []), *value]))
                else:
                    merged.setdefault(key, value)
        return merged, expanded

    def _pick(self, node: dict[str, Any], key: str, stack: tuple[str, ...], notes: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The best anyOf/oneOf branch, with the stack of refs expanded to reach it."""
        rest = {k: v for k, v in node.items() if k != key}
        resolved = [self.resolve(b, stack) for b in node[key]]
        real = [(b, s) for b, s in resolved if b.get("type") != "null" and b.get("const", 0) is not None]
        if len(real) < len(resolved):
            rest["nullable"] = True
        if not real:
            return rest, stack
        best, stack = max(real, key=lambda pair: _score(pair[0]))
        others = sorted({_type_name(b).lower() for b, _ in real if b is not best} - {_type_name(best).lower()})
        if others:
            notes.append(f"Also accepts: {', '.join(others)}.")
        merged = {**best, **{k: v for k, v in rest.items() if k not in ("description",)}}
        if rest.get("description") or best.get("description"):
            merged["description"] = " ".join(str(d) for d in (rest.get("description"), best.get("description")) if d)
        return merged, stack

    def _type(self, node: dict[str, Any], out: dict[str, Any], notes: list[str]) -> bool:
        """Set `out["type"]`; True when null is allowed."""
        raw = node.get("type")
        types = [raw] if isinstance(raw, str) else [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []
        nullable = "null" in types or node.get("nullable") is True
        types = [t.upper() for t in types if t != "null"]
        if not types:
            if isinstance(node.get("properties"), dict):
                types = ["OBJECT"]
            elif "items" in node:
                types = ["ARRAY"]
            elif "const" in node or isinstance(node.get("enum"), list):
                values = [node["const"]] if "const" in node else [v for v in node["enum"] if v is not None]
                types = [_value_type(values[0])] if values else []
        if types:
            out["type"] = types[0]
            if len(types) > 1:
                notes.append(f"Also accepts: {', '.join(t.lower() for t in types[1:])}.")
        fmt = node.get("format")
        if isinstance(fmt, str):
            if fmt in FORMATS.get(out.get("type", ""), set()):
                out["format"] = fmt
            else:
                notes.append(f"Format: {fmt}.")
        return nullable

    def _values(self, node: dict[str, Any], out: dict[str, Any], notes: list[str]) -> None:
        values = [node["const"]] if "const" in node else node.get("enum") if isinstance(node.get("enum"), list) else None
        if values is None:
            return
        if None in values:
            out["_null"] = True
            values = [v for v in values if v is not None]
        if values and all(isinstance(v, str) for v in values) and out.get("type") in (None, "STRING"):
            out["type"], out["enum"] = "STRING", list(values)
        elif values:
            notes.append(f"{'Must be' if len(values) == 1 else 'Allowed values'}: {', '.join(_note(v) for v in values)}.")

    def _extras(self, node: dict[str, Any], notes: list[str]) -> None:
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            notes.append(f"Additional properties allowed: {_type_name(self.resolve(extra, ())[0]).lower()} values.")
        if node.get("deprecated") is True:
            notes.append("Deprecated.")


def _key_order(key: str) -> tuple[int, str]:
    order = ("type", "format", "title", "description", "nullable", "enum", "properties", "required", "items")
    return (order.index(key), "") if key in order else (len(order), key)


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "NUMBER"
    if isinstance(value, dict):
        return "OBJECT"
    return "ARRAY" if isinstance(value, list) else "STRING"


def _type_name(schema: dict[str, Any]) -> str:
    raw = schema.get("type")
    if isinstance(raw, str):
        return raw.upper()
    if isinstance(raw, list) and raw:
        return str(raw[0]).upper()
    return "OBJECT" if "properties" in schema else "ARRAY" if "items" in schema else "ANY"


def _score(schema: dict[str, Any]) -> int:
    props = schema.get("properties")
    if isinstance(props, dict) and props:
        return 100 + len(props)
    return TYPE_RANK.get(_type_name(schema), 0) + (5 if "enum" in schema or "const" in schema else 0)


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema made acceptable as a Gemini functionDeclaration `parameters`.

    Returns `{}` when the tool takes no arguments (the caller then omits `parameters`:
    Gemini rejects an OBJECT without properties).
    """
    cleaned = _Cleaner(schema).clean(schema)
    if "properties" not in cleaned:
        return {}
    cleaned.pop("nullable", None)
    return cleaned


# ---- Gemini Schema (from a Gemini client) to JSON Schema ------------------------------------

_INT_KEYS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")


def to_json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style Schema (or a JSON Schema with upper-case types) as plain JSON Schema."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {str(k): to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties", "prefixItems"):
            out[key] = to_json_schema(value)
        elif key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "type" and isinstance(value, list):
            out[key] = [str(v).lower() for v in value]
        elif key in _INT_KEYS and isinstance(value, str) and value.isdigit():
            out[key] = int(value)
        elif key in ("propertyOrdering", "nullable") or (key == "format" and value == "enum"):
            continue
        else:
            out[key] = value
    if schema.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out
