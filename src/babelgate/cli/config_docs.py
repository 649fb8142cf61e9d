"""docs/configuration.md's key tables and docs/config.schema.json, generated from the config models
and config_help.yaml (the same source as `babelgate config-schema`). From a source checkout:

    python -m babelgate.cli.config_docs           # rewrite both
    python -m babelgate.cli.config_docs --check   # exit 1 when either is stale (tests/test_config_docs.py)

A table sits between `<!-- generated: keys PATH -->` and `<!-- end generated -->`, where PATH is
where its keys live in the config (`server`, `providers.*`, `routing.scenarios`, ...). Everything
outside the markers is written by hand and kept as it is. A key whose value is a section of its
own gets a row, then one row per key inside it (`timeouts.connect`), unless that section has a
table of its own in the file.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from babelgate.cli.schema import LEGACY, build_schema, describe, dumps, raw_schema, section_model
from babelgate.config import Config

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "configuration.md"
SCHEMA = ROOT / "docs" / "config.schema.json"
MARKER = re.compile(r"(<!-- generated: keys (?P<path>[\w.*]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def model_at(path: str) -> type[BaseModel]:
    """The model whose fields a config path names: `store` is StoreConfig, `providers.*` ProviderConfig."""
    model: type[BaseModel] = Config
    for step in path.split("."):
        if step == "*":
            continue
        annotation = model.model_fields[step].annotation
        found = section_model(annotation) or _mapped_model(annotation)
        if found is None:
            raise ValueError(f"{path}: {step} is not a section of the config")
        model = found
    return model


def _mapped_model(annotation: Any) -> type[BaseModel] | None:
    """`dict[str, X]` or `list[X]` (`server.api_keys`): X."""
    arguments = typing.get_args(annotation)
    return section_model(arguments[-1]) if len(arguments) == 2 or typing.get_origin(annotation) is list else None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A property's JSON Schema in words: `integer ≥ 1`, `number > 0 or null`, `list of string`."""
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[1]]
        return "{" + ", ".join(target.get("properties", {})) + "}"
    if "anyOf" in prop:
        kinds = [type_text(member, defs) for member in prop["anyOf"] if member.get("type") != "null"]
        nullable = any(member.get("type") == "null" for member in prop["anyOf"])
        return " or ".join(kinds) + (" or null" if nullable else "")
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return "list of " + type_text(prop.get("items", {}), defs)
    if kind == "object":
        values = prop.get("additionalProperties")
        return "mapping to " + type_text(values, defs) if isinstance(values, dict) and values else "mapping"
    bounds = [
        f"{sign} {_number(prop[key])}"
        for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))
        if key in prop
    ]
    if prop.get("minLength") == 1:
        bounds.append("not empty")
    return " ".join([kind, ", ".join(bounds)]).strip()


def default_text(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return ""
    if value is None or isinstance(value, bool):
        return f"`{json.dumps(value)}`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`"
    if value == "":
        return '`""`'
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return re.sub(r"(?<!\\)\|", r"\\|", text).replace("\n", " ")


def rows(model: type[BaseModel], path: str, own_tables: set[str], prefix: str = "") -> list[str]:
    schema = raw_schema()
    defs = schema["$defs"]
    props = (schema if model is Config else defs[model.__name__])["properties"]
    out = []
    for name, field in model.model_fields.items():
        found = describe(model, name, field)
        meaning = found.meaning if found else ""
        shown = found.default if found and found.default else default_text(field)
        inner = section_model(field.annotation)
        kind = type_text(props[name], defs) if inner is None else "section" + " or null" * (field.default is None)
        out.append(f"| `{prefix}{name}` | {_cell(kind)} | {_cell(shown)} | {_cell(meaning)} |")
        if inner is not None and f"{path}.{name}" not in own_tables:
            out.extend(rows(inner, f"{path}.{name}", own_tables, f"{prefix}{name}."))
    for name in LEGACY.get(model.__name__, ()):
        found = describe(model, name)
        out.append(f"| `{prefix}{name}` | {_cell(type_text(props[name], defs))} | | {_cell(found.meaning if found else '')} |")
    return out


def table(path: str, own_tables: set[str]) -> str:
    lines = [
        "<!-- written by `python -m babelgate.cli.config_docs` from the config models and config_help.yaml: edit those -->",
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    return "\n".join([*lines, *rows(model_at(path), path, own_tables)]) + "\n"


def render(text: str) -> str:
    """The document with every generated table written anew from the models."""
    own_tables = {m.group("path") for m in MARKER.finditer(text)}
    return MARKER.sub(lambda m: m.group(1) + table(m.group("path"), own_tables) + m.group(4), text)


def stale() -> list[Path]:
    """The generated files that differ from what the models say now."""
    out = []
    if DOC.read_text() != render(DOC.read_text()):
        out.append(DOC)
    if not SCHEMA.exists() or SCHEMA.read_text() != dumps(build_schema()):
        out.append(SCHEMA)
    return out


def main(argv: list[str]) -> int:
    if not DOC.exists():
        print(f"{DOC} not found: run this from a source checkout", file=sys.stderr)
        return 2
    if "--check" in argv:
        for path in stale():
            print(f"{path.relative_to(ROOT)} is stale: run python -m babelgate.cli.config_docs", file=sys.stderr)
        return 1 if stale() else 0
    DOC.write_text(render(DOC.read_text()))
    SCHEMA.write_text(dumps(build_schema()))
    print(f"wrote {DOC.relative_to(ROOT)} and {SCHEMA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
