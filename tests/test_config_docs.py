"""The config's JSON Schema and docs/configuration.md's key tables come from the models: every key
is described, the committed copies are what the generator writes now, and the schema accepts
the configs babelgate accepts and flags what it refuses."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from babelgate import config as config_module
from babelgate.cli import config_docs
from babelgate.cli.schema import build_schema, dumps, missing_help, models, unknown_help

ROOT = Path(__file__).resolve().parents[1]
BABELGATE = str(Path(sys.executable).with_name("babelgate"))
FIX = "run `python -m babelgate.cli.config_docs` and commit docs/configuration.md and docs/config.schema.json"


def test_every_config_key_is_described() -> None:
    assert missing_help() == [], "describe these in src/babelgate/config_help.yaml (or with Field(description=...)), then " + FIX
    assert unknown_help() == [], "src/babelgate/config_help.yaml describes keys the models no longer have"


def test_the_committed_schema_is_what_the_models_say_now() -> None:
    committed = (ROOT / "docs" / "config.schema.json").read_text()
    assert committed == dumps(build_schema()), f"docs/config.schema.json is stale: {FIX}"


def test_the_key_tables_in_configuration_md_are_what_the_models_say_now() -> None:
    text = config_docs.DOC.read_text()
    assert text == config_docs.render(text), f"docs/configuration.md is stale: {FIX}"


def test_every_section_of_the_config_has_a_generated_table() -> None:
    """Every model but the top level (and the list and mapping entries inside a section's rows) is some table's rows."""
    text = config_docs.DOC.read_text()
    tabled = {config_docs.model_at(m.group("path")).__name__ for m in config_docs.MARKER.finditer(text)}
    flattened = {"Timeouts", "TimeoutOverrides", "RetentionConfig", "LongContextScenario", "ClientTimeouts"}  # rows of their parent's table
    in_a_row = {"KeySpec", "Price"}  # described in the row of the list or mapping that holds them
    assert set(models()) - {"Config"} - tabled - flattened - in_a_row == set()
    assert "| `timeouts.first_byte` |" in text and "| `retention.days` |" in text and "| `connect_timeout` |" in text


def test_hand_written_prose_outside_the_markers_is_kept() -> None:
    text = config_docs.DOC.read_text()
    scrambled = config_docs.MARKER.sub(lambda m: m.group(1) + "| stale |\n" + m.group(4), text)
    assert scrambled != text
    assert config_docs.render(scrambled) == text  # only the tables are rewritten


def _example_configs() -> dict[str, Any]:
    examples = {}
    doc = config_docs.DOC.read_text()
    for number, block in enumerate(re.findall(r"```yaml\n(.*?)```", doc, re.S)):
        examples[f"configuration.md block {number}"] = yaml.safe_load(block)
    examples["deploy/babelgate.yaml"] = yaml.safe_load((ROOT / "deploy" / "babelgate.yaml").read_text())
    return examples


def test_the_schema_accepts_every_documented_example() -> None:
    validator = jsonschema.Draft202012Validator(build_schema())
    for name, example in _example_configs().items():
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(example)]
        assert errors == [], name


async def test_the_schema_accepts_what_babelgate_init_writes(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OPENAI_API_KEY": "sk-x", "GROQ_API_KEY": "gq-y"}
    process = await asyncio.create_subprocess_exec(
        BABELGATE, "init", "--stdout", "--yes", "--no-local", "--host", "0.0.0.0", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    jsonschema.validate(yaml.safe_load(out), build_schema(), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda c: c["server"].update(prot=8318), "'prot' was unexpected"),
        (lambda c: c["server"].update(port=70000), "70000 is not valid"),
        (lambda c: c["providers"]["openai"].update(type="opneai"), "'opneai' is not valid"),
        (lambda c: c["routing"].update(strategy="random"), "'random' is not valid"),
        (lambda c: c["upstream"]["timeouts"].update(idle=-1), "-1 is not valid"),
        (lambda c: c["addons"].update(warmpu=True), "'warmpu' is not valid"),
        (lambda c: c["providers"].update({"bad name": {"base_url": "http://x"}}), "'bad name' does not match"),
    ],
)
def test_the_schema_flags_what_the_loader_refuses(change: Any, complaint: str) -> None:
    config = copy.deepcopy(_example_configs()["configuration.md block 0"])
    config.setdefault("addons", {})
    config["routing"].setdefault("strategy", "round-robin")
    change(config)
    errors = " / ".join(e.message for e in jsonschema.Draft202012Validator(build_schema()).iter_errors(config))
    assert complaint in errors
    with pytest.raises(config_module.ConfigError):  # the loader refuses the same file
        config_module.parse(json.loads(re.sub(r"\$\{[^}]*\}", "placeholder", json.dumps(config))))


def test_references_and_older_keys_are_valid_where_the_loader_takes_them() -> None:
    config = {
        "server": {"port": "${PORT:-8318}", "max_body_mb": "${MAX_BODY}"},
        "routing": {"strategy": "${STRATEGY}"},
        "providers": {"local": {"base_url": "http://127.0.0.1:8080/v1", "read_timeout": 30, "reasoning_effort": "${EFFORT}"}},
    }
    jsonschema.validate(config, build_schema(), cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError, match="is not valid"):  # `$NAME` is not a reference
        jsonschema.validate({"routing": {"strategy": "$STRATEGY"}}, build_schema(), cls=jsonschema.Draft202012Validator)


async def test_babelgate_config_schema_prints_the_committed_schema(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(BABELGATE, "config-schema", stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert out.decode() == (ROOT / "docs" / "config.schema.json").read_text()
