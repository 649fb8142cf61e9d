"""Scenario routing (`routing.scenarios`): a request of a known kind goes to the model set for that kind.

Like claude-code-router's router, each kind is detected from the request itself, in this order
(the first that matches wins; a kind with no model configured is skipped):

- `long_context`: the token estimate (babelgate/tokens.py) is over `threshold`. First, since a
  model that cannot hold the prompt cannot serve it whatever else it is.
- `background`: Claude Code's small fast model. Every helper request of Claude Code (session
  titles, web-fetch summaries, topic and quota checks, ...) goes to that one model, which is
  `claude-haiku-*` unless `ANTHROPIC_SMALL_FAST_MODEL` / `ANTHROPIC_DEFAULT_HAIKU_MODEL` rename it:
  the requested name contains `haiku`.
- `subagent`: a request of a subagent Claude Code started (its Agent tool). Such a request carries
  the `x-claude-code-agent-id` header, and its billing header says `cc_is_subagent=true`.
- `image`: an image in the conversation (any message, tool results too).
- `web_search`: the client offers a web-search tool (Anthropic's `web_search_*` server tool,
  OpenAI Responses' `web_search*`, Gemini's `googleSearch`).
- `think`: more reasoning than the default asked for: a thinking budget (`thinking.type: enabled`)
  or an effort of high, xhigh or max (Claude Code's `/effort`, `ultrathink`). Claude Code sends
  adaptive thinking at medium effort on every request, which is not a reason to reroute.

The kind that matched is kept in `call.notes[SCENARIO]` for the request's log line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from babelgate import ir, tokens
from babelgate.call import Call
from babelgate.config_routing import ScenariosConfig

SCENARIO = "routing.scenario"  # the call's note: the scenario that picked its model
SUBAGENT_HEADER = "x-claude-code-agent-id"
SUBAGENT_MARK = "cc_is_subagent=true"
BILLING_HEADER = "x-anthropic-billing-header:"
DEEP_EFFORTS = frozenset({"high", "xhigh", "max"})
_SEARCH_TOOLS = ("web_search", "google_search", "googlesearch")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    target: str  # a model name the resolver knows (`provider/model`, an alias)


class Scenarios:
    def __init__(self, config: ScenariosConfig) -> None:
        self.config = config
        self.configured = any(value is not None for value in config.model_dump().values())

    def __bool__(self) -> bool:
        return self.configured

    def pick(self, call: Call) -> Scenario | None:
        """The first scenario the call is a case of, among those configured."""
        config, request = self.config, call.request
        if config.long_context is not None and tokens.estimate(request) > config.long_context.threshold:
            return Scenario("long_context", config.long_context.target)
        checks: tuple[tuple[str, str | None, Callable[[], bool]], ...] = (
            ("background", config.background, lambda: "haiku" in request.model.lower()),
            ("subagent", config.subagent, lambda: is_subagent(call.headers, call.raw)),
            ("image", config.image, lambda: has_image(request)),
            ("web_search", config.web_search, lambda: offers_web_search(call.raw)),
            ("think", config.think, lambda: thinks_hard(request)),
        )
        for name, target, matches in checks:
            if target is not None and matches():
                return Scenario(name, target)
        return None


def is_subagent(headers: Mapping[str, str], raw: dict[str, Any] | None) -> bool:
    if headers.get(SUBAGENT_HEADER):
        return True
    system = raw.get("system") if raw else None
    if not isinstance(system, list) or not system or not isinstance(system[0], dict):
        return False
    first = str(system[0].get("text", ""))
    return first.startswith(BILLING_HEADER) and SUBAGENT_MARK in first


def has_image(request: ir.Request) -> bool:
    for message in request.messages:
        for part in message.parts:
            inner = part.content if isinstance(part, ir.ToolResultPart) else [part]
            if any(isinstance(p, ir.MediaPart) and p.kind == "image" for p in inner):
                return True
    return False


def offers_web_search(raw: dict[str, Any] | None) -> bool:
    """Server-side search tools never reach ir (only the upstream that runs them can), so look at the client's body."""
    tools = raw.get("tools") if raw else None
    if not isinstance(tools, list):
        return False
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        kinds = [str(tool.get("type", "")), *(str(key) for key in tool)]  # Gemini names the tool by its key
        if any(kind.lower().replace("_", "").startswith(s.replace("_", "")) for kind in kinds for s in _SEARCH_TOOLS):
            return True
    return False


def thinks_hard(request: ir.Request) -> bool:
    reasoning = request.reasoning
    if reasoning is None:
        return False
    return bool(reasoning.budget) or reasoning.effort in DEEP_EFFORTS
