"""The config's JSON Schema, generated from the pydantic models (config.py, config_*.py), each key
described from `config_help.yaml` (or its own `Field(description=...)`).

`babelgate config-schema` prints it; docs/config.schema.json is the committed copy that editors
read (`# yaml-language-server: $schema=...`). Beyond what pydantic says, it knows what the loader
adds: any value may be a `${VARIABLE}` reference (so `port: ${PORT}` is valid), the older provider
keys are still read, and provider types, presets and built-in addons are offered by name.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from babelgate.config import Config
from babelgate.provider_presets import PRESETS
from babelgate.registry import BUILTIN_ADDONS, UPSTREAM_TYPES

DIALECT = "https://json-schema.org/draft/2020-12/schema"
LEGACY = {"ProviderConfig": ("connect_timeout", "read_timeout")}  # still read by config_upstream.migrate_legacy
ENV_REFERENCE = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "`${VARIABLE}` or `${VARIABLE:-default}`: replaced from the environment when the config loads",
}
ANNOTATIONS = ("default", "description", "title", "deprecated")


@dataclass(frozen=True, slots=True)
class Help:
    meaning: str
    default: str | None = None  # shown in the docs instead of the model's default


@cache
def help_entries() -> dict[str, dict[str, Help]]:
    """config_help.yaml: the meaning of each key, by model and field."""
    raw = yaml.safe_load(resources.files("babelgate").joinpath("config_help.yaml").read_text(encoding="utf-8"))
    entries: dict[str, dict[str, Help]] = {}
    for model, fields in raw.items():
        entries[model] = {}
        for name, value in fields.items():
            entry = value if isinstance(value, dict) else {"meaning": value}
            entries[model][name] = Help(" ".join(str(entry["meaning"]).split()), entry.get("default"))
    return entries


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (`X | None`, `list[str | X]`, `dict[str, X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found.extend(nested_models(argument))
    return found


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a field that is one section (`X` or `X | None`), not a list or mapping of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        return section_model(models[0]) if len(models) == 1 else None
    return None


def models() -> dict[str, type[BaseModel]]:
    """Every model of the config, by class name, from `Config` down, in the order first reached."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [Config]
    while pending:
        model = pending.pop(0)
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for field in model.model_fields.values():
            pending.extend(nested_models(field.annotation))
    return found


def describe(model: type[BaseModel], name: str, field: FieldInfo | None = None) -> Help | None:
    if field is not None and field.description:
        return Help(field.description)
    return help_entries().get(model.__name__, {}).get(name)


def missing_help() -> list[str]:
    """Config keys no one has described, as `Model.field`."""
    missing = [f"{n}.{f}" for n, m in models().items() for f, info in m.model_fields.items() if describe(m, f, info) is None]
    missing += [f"{n}.{f}" for n, names in LEGACY.items() for f in names if describe(models()[n], f) is None]
    return missing


def unknown_help() -> list[str]:
    """Entries of config_help.yaml that name no model or field (left behind by a rename)."""
    known = {n: {*m.model_fields, *LEGACY.get(n, ())} for n, m in models().items()}
    return [f"{n}.{f}" for n, fields in help_entries().items() for f in fields if f not in known.get(n, ())]


def raw_schema() -> dict[str, Any]:
    """pydantic's schema with every key described and the names the validators accept offered."""
    schema = Config.model_json_schema()
    for name, model in models().items():
        target = schema if model is Config else schema["$defs"][name]
        for field, info in model.model_fields.items():
            prop = target["properties"][field]
            prop.pop("title", None)
            if (found := describe(model, field, info)) is not None:
                prop["description"] = found.meaning
        for legacy in LEGACY.get(name, ()):
            found = describe(model, legacy)
            target["properties"][legacy] = {"type": "number", "exclusiveMinimum": 0, "deprecated": True} | (
                {"description": found.meaning} if found else {}
            )
    provider = schema["$defs"]["ProviderConfig"]["properties"]
    provider["type"]["enum"] = list(UPSTREAM_TYPES)
    provider["preset"]["anyOf"][0]["enum"] = list(PRESETS)
    schema["properties"]["providers"]["propertyNames"] = {"pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"}
    schema["properties"]["addons"]["propertyNames"] = {"anyOf": [{"enum": list(BUILTIN_ADDONS)}, {"pattern": ":"}]}
    return schema


def _scalar(node: dict[str, Any]) -> bool:
    return node.get("type") in ("integer", "number", "boolean") or "enum" in node or "const" in node


def allow_references(node: Any) -> Any:
    """Let every number, boolean and fixed choice also be a `${VARIABLE}` (strings may hold one already)."""
    if isinstance(node, list):
        return [allow_references(item) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("anyOf"), list):
        members = [{k: allow_references(v) for k, v in m.items()} for m in node["anyOf"]]
        if any(_scalar(m) for m in node["anyOf"]):
            members.append(ENV_REFERENCE)
        return {**{k: allow_references(v) for k, v in node.items() if k != "anyOf"}, "anyOf": members}
    out = {k: v if k in ANNOTATIONS else allow_references(v) for k, v in node.items()}
    if not _scalar(node):
        return out
    annotations = {k: out.pop(k) for k in ANNOTATIONS if k in out}
    return {"anyOf": [out, ENV_REFERENCE], **annotations}


def build_schema() -> dict[str, Any]:
    schema = allow_references(raw_schema())
    schema.pop("title", None)
    return {"$schema": DIALECT, "title": "babelgate config", **schema}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def config_schema(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write it to this file instead of printing it."),
) -> None:
    """Print the config file's JSON Schema, for editors (VS Code's YAML extension, JetBrains, Helix ...)."""
    text = dumps(build_schema())
    if output is None:
        typer.echo(text, nl=False)
        return
    output.expanduser().write_text(text)
    typer.echo(f"wrote {output}; point an editor at it with `# yaml-language-server: $schema={output}` atop the config", err=True)
