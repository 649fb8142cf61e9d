"""Units of the Claude Code companion: scenario detection, the usage-scaling curve, the classifier's verdicts."""

from __future__ import annotations

from babelgate import ir
from babelgate.addons.safeguards_judge import verdicts
from babelgate.addons.usage_scaling import scale_usage, scaled
from babelgate.call import Call
from babelgate.config_routing import ScenariosConfig
from babelgate.dialects import anthropic
from babelgate.routing.scenarios import Scenarios

CONFIG = ScenariosConfig.model_validate(
    {
        "background": "local/qwen3",
        "think": "openai/gpt-5",
        "long_context": {"threshold": 5000, "target": "gemini/gemini-2.5-pro"},
        "image": "openai/gpt-5-vision",
        "web_search": "gemini/gemini-2.5-flash",
        "subagent": "openai/gpt-5-mini",
    }
)


def _call(body: dict, headers: dict | None = None) -> Call:
    body = {"model": "claude-opus-5-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **body}
    return Call(anthropic, anthropic.parse_request(body), headers or {}, raw=body)


def _picked(body: dict, headers: dict | None = None) -> str | None:
    scenario = Scenarios(CONFIG).pick(_call(body, headers))
    return None if scenario is None else f"{scenario.name} {scenario.target}"


def test_each_scenario_is_detected_from_the_request() -> None:
    assert _picked({}) is None
    assert _picked({"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}) is None  # Claude Code's every request
    assert _picked({"model": "claude-haiku-5-5"}) == "background local/qwen3"
    assert _picked({}, {"x-claude-code-agent-id": "a1"}) == "subagent openai/gpt-5-mini"
    billing = {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328.593; cc_is_subagent=true"}
    assert _picked({"system": [billing, {"type": "text", "text": "You are an agent"}]}) == "subagent openai/gpt-5-mini"
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    assert (
        _picked({"messages": [{"role": "user", "content": [image, {"type": "text", "text": "what is it"}]}]}) == "image openai/gpt-5-vision"
    )
    search = {"type": "web_search_20250305", "name": "web_search"}
    assert _picked({"tools": [search]}) == "web_search gemini/gemini-2.5-flash"
    assert _picked({"thinking": {"type": "enabled", "budget_tokens": 8000}}) == "think openai/gpt-5"
    assert _picked({"output_config": {"effort": "max"}}) == "think openai/gpt-5"
    long = [{"role": "user", "content": "word " * 6000}]
    assert _picked({"model": "claude-haiku-5-5", "messages": long}) == "long_context gemini/gemini-2.5-pro"  # size comes first


def test_unset_scenarios_route_as_the_request_names() -> None:
    assert not Scenarios(ScenariosConfig())
    assert Scenarios(ScenariosConfig(think="openai/gpt-5")).pick(_call({"model": "claude-haiku-5-5"})) is None


def test_usage_scaling_follows_the_staged_curve_on_huge_windows() -> None:
    window = 1_000_000
    assert scaled(30_000, window) == 30_000  # small prompts untouched
    assert scaled(500_000, window) == int(0.3 * 195_000)
    assert scaled(700_000, window) == int(0.5 * 195_000)
    assert scaled(850_000, window) == int(0.7 * 195_000)
    assert scaled(1_000_000, window) == int(0.97 * 195_000)
    assert scaled(1_500_000, window) == int(0.97 * 195_000)
    assert scaled(150_000, 200_000) == 150_000  # a window Claude Code already assumes: no scaling
    shown = scale_usage(ir.Usage(input_tokens=100_000, cache_read_tokens=400_000, output_tokens=7), window)
    assert (shown.input_tokens + shown.cache_read_tokens, shown.output_tokens) == (int(0.3 * 195_000), 7)
    assert abs(shown.cache_read_tokens - 4 * shown.input_tokens) < 5  # split as the upstream split it


def test_a_call_without_a_clear_verdict_is_unavailable() -> None:
    calls = [ir.ToolCallPart("a", "Bash", {}), ir.ToolCallPart("b", "Bash", {}), ir.ToolCallPart("c", "Bash", {})]
    answer = 'Sure. {"verdicts": [{"id": "a", "outcome": "flagged"}, {"id": "b", "outcome": "not_flagged"}, {"id": "c", "outcome": "?"}]}'
    found = verdicts(answer, calls)
    assert found["a"]["outcome"] == "flagged" and found["a"]["explanation"]
    assert found["b"] == {"type": "evaluated", "outcome": "not_flagged"}
    assert found["c"] == {"type": "unavailable", "reason": "error"}
    assert verdicts("no json here", calls[:1]) == {"a": {"type": "unavailable", "reason": "error"}}
