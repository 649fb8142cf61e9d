"""gemini_schema.clean_schema / to_json_schema: JSON Schema into Gemini's `parameters` and back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import types
from hypothesis import given, settings
from hypothesis import strategies as st

from babelgate.dialects.gemini_schema import SUPPORTED, clean_schema, to_json_schema
from tests.dialects.helpers import CAPTURE_NAMES, fixture

GEMINI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"}


def _walk(schema: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [schema]
    for child in (schema.get("properties") or {}).values():
        nodes.extend(_walk(child))
    if isinstance(schema.get("items"), dict):
        nodes.extend(_walk(schema["items"]))
    return nodes


def _assert_gemini_valid(cleaned: dict[str, Any]) -> None:
    types.Schema.model_validate(cleaned)  # the SDK's model forbids unknown fields
    for node in _walk(cleaned):
        assert set(node) <= SUPPORTED, set(node) - SUPPORTED
        assert node.get("type", "STRING") in GEMINI_TYPES
        if node.get("type") == "OBJECT":
            assert node.get("properties"), "an OBJECT needs properties"
        assert set(node.get("required", [])) <= set(node.get("properties", {}))
        if "enum" in node:
            assert node["type"] == "STRING" and all(isinstance(v, str) for v in node["enum"])


def test_plain_schema_keeps_its_shape() -> None:
    schema = {
        "type": "object",
        "properties": {"path": {"type": "string", "description": "Where."}, "count": {"type": "integer", "minimum": 1}},
        "required": ["path"],
    }
    assert clean_schema(schema) == {
        "type": "OBJECT",
        "properties": {"path": {"type": "STRING", "description": "Where."}, "count": {"type": "INTEGER", "minimum": 1}},
        "required": ["path"],
    }


def test_refs_are_inlined_and_recursion_is_cut() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "required": ["name"],
            }
        },
        "definitions": {"Color": {"enum": ["red", "green"]}},
        "properties": {"tree": {"$ref": "#/$defs/Node", "description": "The root."}, "color": {"$ref": "#/definitions/Color"}},
    }
    cleaned = clean_schema(schema)
    tree = cleaned["properties"]["tree"]
    assert tree["description"] == "The root."
    assert tree["properties"]["name"] == {"type": "STRING"}
    assert tree["properties"]["children"]["items"] == {"description": "Recursive reference: same shape as Node."}
    assert cleaned["properties"]["color"] == {"type": "STRING", "enum": ["red", "green"]}
    _assert_gemini_valid(cleaned)


def test_root_self_reference_and_unresolved_reference() -> None:
    schema = {"type": "object", "properties": {"next": {"$ref": "#"}, "other": {"$ref": "other.json#/x"}}}
    cleaned = clean_schema(schema)
    nxt = cleaned["properties"]["next"]
    assert nxt["properties"]["next"] == {"description": "Recursive reference: same shape as the whole schema."}
    assert cleaned["properties"]["other"] == {"description": "Unresolved reference other.json#/x."}


def _nodes(schema: Any) -> int:
    if isinstance(schema, dict):
        return 1 + sum(_nodes(v) for v in schema.values())
    if isinstance(schema, list):
        return sum(_nodes(v) for v in schema)
    return 0


def test_recursion_through_any_of_and_all_of_is_cut_once() -> None:
    """A ref expanded inside anyOf/allOf stays on the path: `#` under an anyOf must not expand again below it."""
    schema = {"type": "object", "properties": {c: {"anyOf": [{"$ref": "#"}, {"type": "null"}]} for c in "abc"}}
    cleaned = clean_schema(schema)
    _assert_gemini_valid(cleaned)
    inner = cleaned["properties"]["a"]
    assert inner["nullable"] is True and set(inner["properties"]) == {"a", "b", "c"}
    assert "Recursive reference" in inner["properties"]["a"]["description"]  # cut at the second level, not the 24th
    merged = clean_schema({"type": "object", "properties": {c: {"allOf": [{"$ref": "#"}]} for c in "ab"}})
    assert "Recursive reference" in merged["properties"]["a"]["properties"]["a"]["description"]


def test_a_dag_of_shared_refs_is_expanded_within_a_bounded_size() -> None:
    """Each level refers to the next three times: 3**20 paths. The output stays bounded and valid."""
    defs: dict[str, Any] = {f"L{i}": {"type": "object", "properties": {c: {"$ref": f"#/$defs/L{i + 1}"} for c in "abc"}} for i in range(20)}
    defs["L20"] = {"type": "string"}
    cleaned = clean_schema({"type": "object", "properties": {"x": {"$ref": "#/$defs/L0"}}, "$defs": defs})
    _assert_gemini_valid(cleaned)
    assert _nodes(cleaned) < 50_000
    assert cleaned["properties"]["x"]["properties"]["a"]["properties"]["a"]["type"] == "OBJECT"  # depth first, then cut


def test_const_type_arrays_and_nullable() -> None:
    schema = {
        "type": "object",
        "properties": {
            "mode": {"const": "fast"},
            "limit": {"type": ["integer", "null"]},
            "either": {"type": ["string", "number"]},
            "level": {"enum": [1, 2, 3]},
            "maybe": {"enum": ["a", None]},
        },
    }
    props = clean_schema(schema)["properties"]
    assert props["mode"] == {"type": "STRING", "enum": ["fast"]}
    assert props["limit"] == {"type": "INTEGER", "nullable": True}
    assert props["either"] == {"type": "STRING", "description": "Also accepts: number."}
    assert props["level"] == {"type": "INTEGER", "description": "Allowed values: 1, 2, 3."}
    assert props["maybe"] == {"type": "STRING", "nullable": True, "enum": ["a"]}


def test_all_of_is_merged_and_any_of_picks_the_richest_branch() -> None:
    schema = {
        "type": "object",
        "properties": {
            "merged": {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
                ]
            },
            "url": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}], "description": "A link"},
            "target": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}]},
        },
    }
    props = clean_schema(schema)["properties"]
    assert props["merged"] == {"type": "OBJECT", "properties": {"a": {"type": "STRING"}, "b": {"type": "BOOLEAN"}}, "required": ["a", "b"]}
    assert props["url"] == {"type": "STRING", "description": "A link (Format: uri.)", "nullable": True}
    assert props["target"] == {
        "type": "OBJECT",
        "description": "Also accepts: string.",
        "properties": {"id": {"type": "INTEGER"}},
        "required": ["id"],
    }


def test_unsupported_keywords_move_into_the_description() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z]+$", "default": "x", "examples": ["abc"]},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "old": {"type": "string", "deprecated": True, "$comment": "internal"},
            "when": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 1},
        },
        "required": ["name", "ghost"],
    }
    cleaned = clean_schema(schema)
    props = cleaned["properties"]
    assert props["name"]["description"] == 'Pattern: ^[a-z]+$. Default: x. Examples: ["abc"].'
    assert props["ratio"]["description"] == "Exclusive minimum: 0. Multiple of: 0.5."
    assert props["labels"] == {"description": "Additional properties allowed: string values. Any JSON object."}
    assert props["old"] == {"type": "STRING", "description": "Deprecated."}
    assert props["when"] == {"type": "STRING", "format": "date-time"}
    assert props["tags"] == {"type": "ARRAY", "description": "Unique items: true.", "items": {"type": "STRING"}, "minItems": 1}
    assert cleaned["required"] == ["name"]
    assert "additionalProperties" not in json.dumps(cleaned)
    _assert_gemini_valid(cleaned)


def test_no_placeholder_properties_are_invented() -> None:
    assert clean_schema({"type": "object", "properties": {}}) == {}
    assert clean_schema({"type": "object"}) == {}
    cleaned = clean_schema({"type": "object", "properties": {"meta": {"type": "object"}, "any": {}}})
    assert cleaned["properties"] == {"meta": {"description": "Any JSON object."}, "any": {}}


@pytest.mark.parametrize("name", CAPTURE_NAMES)
def test_every_captured_client_tool_schema_cleans_to_a_valid_gemini_schema(name: str) -> None:
    body = fixture(name)
    schemas: list[dict[str, Any]] = []
    for tool in body.get("tools") or []:
        schemas.extend(t.get("parameters") for t in tool.get("tools", [tool]) if isinstance(t.get("parameters"), dict))
        schemas.extend(d.get("parametersJsonSchema") or d.get("parameters") for d in tool.get("functionDeclarations") or [])
        schemas.extend(t["input_schema"] for t in [tool] if isinstance(tool.get("input_schema"), dict))
    for schema in schemas:
        cleaned = clean_schema(to_json_schema(schema))
        if cleaned:
            _assert_gemini_valid(cleaned)
            assert set(cleaned["properties"]) == set(schema.get("properties") or {})


def test_to_json_schema_reads_gemini_style_schemas() -> None:
    gemini = {
        "type": "OBJECT",
        "properties": {
            "n": {"type": "INTEGER", "nullable": True, "format": "int32"},
            "tags": {"type": "ARRAY", "items": {"type": "STRING", "format": "enum", "enum": ["a", "b"]}, "minItems": "1"},
        },
        "required": ["n"],
        "propertyOrdering": ["n", "tags"],
    }
    assert to_json_schema(gemini) == {
        "type": "object",
        "properties": {
            "n": {"type": ["integer", "null"], "format": "int32"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 1},
        },
        "required": ["n"],
    }


# ---- properties over arbitrary schemas ---------------------------------------------------

_leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean", "null", ["string", "null"], ["integer", "string"]])},
    optional={
        "description": st.text(max_size=12),
        "pattern": st.just("^x$"),
        "default": st.integers(),
        "enum": st.lists(st.one_of(st.text(max_size=4), st.integers(), st.none()), min_size=1, max_size=3),
        "const": st.text(max_size=4),
        "format": st.sampled_from(["uri", "email", "date-time", "int64", "float"]),
        "minimum": st.integers(),
        "exclusiveMaximum": st.integers(),
        "examples": st.lists(st.integers(), max_size=2),
    },
)
_ref = st.sampled_from([{"$ref": "#/$defs/Thing"}, {"$ref": "#"}, {"$ref": "#/definitions/missing"}])


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    names = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
    obj = st.fixed_dictionaries(
        {"type": st.just("object"), "properties": st.dictionaries(names, children, max_size=3)},
        optional={"required": st.lists(names, max_size=3), "additionalProperties": st.one_of(st.booleans(), children)},
    )
    array = st.fixed_dictionaries({"type": st.just("array"), "items": children}, optional={"minItems": st.integers(0, 3)})
    combos = st.one_of(
        st.builds(lambda bs: {"anyOf": bs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda bs: {"oneOf": bs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda bs: {"allOf": bs}, st.lists(obj, min_size=1, max_size=2)),
    )
    return st.one_of(obj, array, combos, _ref)


_schemas = st.recursive(st.one_of(_leaf, st.just({})), _extend, max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(props=st.dictionaries(st.text(alphabet="xyz", min_size=1, max_size=3), _schemas, max_size=4), thing=_schemas)
def test_any_schema_cleans_to_something_gemini_accepts(props: dict[str, Any], thing: Any) -> None:
    schema = {"type": "object", "properties": props, "required": sorted(props)[:2], "$defs": {"Thing": thing}}
    cleaned = clean_schema(schema)
    if props:
        assert set(cleaned["properties"]) == set(props)
        _assert_gemini_valid(cleaned)
    else:
        assert cleaned == {}
