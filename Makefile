# babelgate: `make run` starts the gateway, `make test` runs the whole suite.
# Both create .venv and install what they need on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_DIR := .cache/node
# The client pins: tests/support/pins.py reads them, and .cache/captures/ files are named after them.
CLAUDE_CODE_VERSION := 2.1.328
CODEX_VERSION := 0.169.0
GEMINI_CLI_VERSION := 0.61.0
NODE_CLIENTS := @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION) @openai/codex@$(CODEX_VERSION) @google/gemini-cli@$(GEMINI_CLI_VERSION)
NODE_STAMP := $(NODE_DIR)/.installed-$(CLAUDE_CODE_VERSION)-$(CODEX_VERSION)-$(GEMINI_CLI_VERSION)
# llama-cpp-python has no wheel: pip compiles it once and keeps the wheel in its cache.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF

.PHONY: run test lint typecheck bench install dev node-clients system-packages clean config-docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,local-model]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

$(NODE_STAMP):
	command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	mkdir -p $(NODE_DIR)
	npm install --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error $(NODE_CLIENTS)
	touch $@

node-clients: $(NODE_STAMP)

# Debian packages the tests drive, as command:package: tmux (Claude Code's TUI, when the tests capture
# its requests into .cache/captures), Chromium and its driver (the dashboard), redis-server and HAProxy
# (the store and cluster tests). One apt-get for what is missing.
SYSTEM_TOOLS = tmux:tmux chromium:chromium chromedriver:chromium-driver redis-server:redis-server haproxy:haproxy
system-packages:
	@missing=""; for pair in $(SYSTEM_TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then apt-get update && apt-get install -y --no-install-recommends $$missing; fi

# tests/store and tests/cluster start a real Redis and HAProxy on loopback ports (Debian packages).
run: install
	$(BIN)/babelgate serve

lint: dev
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

typecheck: dev
	$(BIN)/mypy

test: dev node-clients system-packages lint typecheck
	$(BIN)/pytest -q

bench: dev node-clients system-packages
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.run

# docs/configuration.md's key tables and docs/config.schema.json, from the config models and config_help.yaml.
config-docs: dev
	$(BIN)/python -m babelgate.cli.config_docs

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
