"""docs/BENCHMARKS.md from bench/results/latest.json: targets, machine, method, one table per scenario.

The prose that interprets a run (what stands in the way, what to change) is kept by hand
in bench/analysis.md and included as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ANALYSIS = Path(__file__).resolve().parent / "analysis.md"
FAULTS = Path(__file__).resolve().parent / "results" / "faults.json"
ORDER = ("direct", "babelgate", "babelgate-baseline", "babelgate-workers", "litellm", "ccr", "aiohttp-relay")
BASE = "babelgate"
NOISY = 0.35
Row = list[str]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _q(result: dict[str, Any] | None, metric: str, q: str) -> float | None:
    if not result or not isinstance(result.get(metric), dict):
        return None
    value = result[metric].get(q)
    return float(value) if value is not None else None


def _table(header: Row, rows: list[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _label(results: dict[str, Any], key: str, outcome: dict[str, Any] | None = None) -> str:
    label = str(results["targets"].get(key, {}).get("label", key))
    other = (outcome or {}).get("other_cpu_cores", 0)
    return f"{label} (noisy: other processes took {other:.1f} cores)" if other > NOISY else label


def _keys(results: dict[str, Any], by_target: dict[str, Any]) -> list[str]:
    return [k for k in ORDER if k in by_target]


def one_line(outcome: dict[str, Any]) -> str:
    """The console summary of one load run."""
    if "failed" in outcome:
        return "FAILED " + outcome["failed"].splitlines()[-1][:160] if outcome["failed"] else "FAILED"
    text = f"{outcome['rps']:.0f} req/s, p50 {_ms(_q(outcome, 'latency_ms', 'p50'))} ms, p99 {_ms(_q(outcome, 'latency_ms', 'p99'))} ms"
    if outcome.get("ttft_ms"):
        text += f", ttft p50 {_ms(_q(outcome, 'ttft_ms', 'p50'))} ms"
    if outcome.get("errors"):
        text += f", {outcome['errors']} errors {list(outcome.get('error_samples', {}))[:1]}"
    return text


def _failed(outcome: dict[str, Any]) -> bool:
    return "failed" in outcome or outcome.get("latency_ms") is None


def _cpu(outcome: dict[str, Any]) -> str:
    cpu = outcome.get("cpu_us_per_request", {}).get("target")
    return "-" if cpu is None else f"{cpu:,.0f}"


def _latency_table(results: dict[str, Any], by_target: dict[str, Any], metric: str = "latency_ms") -> str:
    direct = by_target.get("direct")
    base = by_target.get(BASE)
    header = [
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "added p50 ms",
        "added p99 ms",
        "req/s vs babelgate",
        "added p50 vs babelgate",
        "CPU µs/req",
        "errors",
    ]
    rows = []
    for key in _keys(results, by_target):
        out = by_target[key]
        if _failed(out):
            rows.append([_label(results, key, out), "failed", *["-"] * 7, str(out.get("errors", "-"))])
            continue
        p50, p99 = _q(out, metric, "p50"), _q(out, metric, "p99")
        added50 = None if direct is None or key == "direct" or p50 is None else p50 - (_q(direct, metric, "p50") or 0)
        added99 = None if direct is None or key == "direct" or p99 is None else p99 - (_q(direct, metric, "p99") or 0)
        ratio = "-" if not base or _failed(base) or key in ("direct", BASE) else f"{out['rps'] / max(base['rps'], 1e-9):.2f}x"
        base_added = (
            None if not base or _failed(base) or direct is None else (_q(base, metric, "p50") or 0) - (_q(direct, metric, "p50") or 0)
        )
        added_ratio = "-" if added50 is None or not base_added or key == BASE else f"{added50 / base_added:.1f}x"
        rows.append(
            [
                _label(results, key, out),
                _num(out["rps"]),
                _ms(p50),
                _ms(p99),
                _ms(added50),
                _ms(added99),
                ratio,
                added_ratio,
                _cpu(out),
                str(out["errors"]),
            ]
        )
    return _table(header, rows)


def _stream_table(results: dict[str, Any], by_target: dict[str, Any]) -> str:
    direct = by_target.get("direct")
    header = [
        "target",
        "streams/s",
        "TTFT p50 ms",
        "TTFT p99 ms",
        "added TTFT p50 ms",
        "total p50 ms",
        "total p99 ms",
        "added total p50 ms",
        "CPU µs/stream",
        "errors",
    ]
    rows = []
    for key in _keys(results, by_target):
        out = by_target[key]
        if _failed(out):
            rows.append([_label(results, key, out), "failed", *["-"] * 7, str(out.get("errors", "-"))])
            continue
        t50, l50 = _q(out, "ttft_ms", "p50"), _q(out, "latency_ms", "p50")
        added_t = None if direct is None or key == "direct" or t50 is None else t50 - (_q(direct, "ttft_ms", "p50") or 0)
        added_l = None if direct is None or key == "direct" or l50 is None else l50 - (_q(direct, "latency_ms", "p50") or 0)
        rows.append(
            [
                _label(results, key, out),
                _num(out["rps"], 1),
                _ms(t50),
                _ms(_q(out, "ttft_ms", "p99")),
                _ms(added_t),
                _ms(l50),
                _ms(_q(out, "latency_ms", "p99")),
                _ms(added_l),
                _cpu(out),
                str(out["errors"]),
            ]
        )
    return _table(header, rows)


def _held_table(results: dict[str, Any], by_target: dict[str, Any]) -> str:
    header = [
        "target",
        "streams ok",
        "errors",
        "max open at once",
        "RSS before MB",
        "RSS peak MB",
        "KB per stream",
        "stream p50 s",
        "stream max s",
        "first error",
    ]
    rows = []
    for key in _keys(results, by_target):
        out = by_target[key]
        if "failed" in out:
            rows.append([_label(results, key), "failed", *["-"] * 7, out["failed"][:80]])
            continue
        before, peak = out.get("rss_before_kb"), out.get("rss_peak_kb")
        open_max = max(out.get("max_open_streams", 0), 1)
        per_stream = None if before is None or peak is None else (peak - before) / open_max
        first = next(iter(out.get("error_samples", {})), "")
        p50, top = _q(out, "latency_ms", "p50"), _q(out, "latency_ms", "max")
        rows.append(
            [
                _label(results, key, out),
                str(out["ok"]),
                str(out["errors"]),
                str(out.get("max_open_streams", "-")),
                "-" if before is None else f"{before / 1024:.1f}",
                "-" if peak is None else f"{peak / 1024:.1f}",
                _num(per_stream, 1),
                "-" if p50 is None else f"{p50 / 1000:.1f}",
                "-" if top is None else f"{top / 1000:.1f}",
                first[:90].replace("|", "/"),
            ]
        )
    return _table(header, rows)


def _idle_table(results: dict[str, Any], by_target: dict[str, Any]) -> str:
    rows = []
    for key in _keys(results, by_target):
        out = by_target[key]
        if out:
            rows.append([_label(results, key), f"{out['rss_kb'] / 1024:.1f}", str(out["processes"])])
    return _table(["target", "idle RSS MB", "processes"], rows)


def _translate_section(translate: dict[str, Any]) -> str:
    ours = translate.get("babelgate")
    if not ours or "failed" in ours:
        return "_not run_" if not ours else f"_failed_: {ours['failed'][-200:]}"
    theirs = translate.get("litellm") or {}
    theirs_by = {r["fixture"]: r for r in theirs.get("requests", [])}
    steps = list(ours["requests"][0]["steps_us"])
    rows = []
    for item in ours["requests"]:
        peer = theirs_by.get(item["fixture"])
        rows.append(
            [
                item["fixture"],
                f"{item['bytes'] / 1000:.1f}",
                _num(item["total_us"]),
                *[_num(item["steps_us"][s]) for s in steps],
                _num(peer["total_us"]) if peer else "-",
            ]
        )
    parts = [
        "Request, Anthropic bytes in → OpenAI bytes out (µs per request, median of 5 runs):",
        "",
        _table(["fixture", "KB", "babelgate total", *steps, "LiteLLM adapter total"], rows),
        "",
        "Response, OpenAI in → Anthropic out (µs per response):",
        "",
    ]
    resp_rows = []
    for name, value in ours["responses_us"].items():
        peer = theirs.get("responses_us", {}).get(name)
        per_chunk = f" ({value / ours['stream_chunks']:.1f} per chunk)" if name.startswith("sse") else ""
        resp_rows.append([name, _num(value, 1) + per_chunk, _num(peer, 1)])
    parts.append(_table(["response", "babelgate", "LiteLLM adapter"], resp_rows))
    if "failed" in theirs:
        parts.append(f"\nLiteLLM timing failed: {theirs['failed'][-200:]}")
    return "\n".join(parts)


def _profile_section(profile: dict[str, Any]) -> str:
    if not profile:
        return "_not run_"
    if "failed" in profile:
        return f"_failed_: {profile['failed'][-300:]}"
    parts = [f"{profile['tool']}, attached to {profile['target']} while the load generator runs. Shares are of all samples."]
    for name, summary in profile.items():
        if not isinstance(summary, dict):
            continue
        parts += [
            "",
            f"#### {name} ({summary['samples']} samples, server CPU {summary.get('target_cpu_util', 0) * 100:.0f}% of one core)",
            "",
        ]
        parts.append(_table(["area", "% of samples"], [[a, f"{p}"] for a, p in summary["areas"] if p > 0]))
        parts += ["", "<details><summary>top self time; top babelgate functions (inclusive)</summary>", ""]
        parts.append(_table(["function (self)", "%"], [[f"`{f}`", f"{p}"] for f, p in summary["self"]]))
        parts.append("")
        parts.append(_table(["babelgate function (inclusive)", "%"], [[f"`{f}`", f"{p}"] for f, p in summary["babelgate_inclusive"]]))
        parts += ["", "</details>"]
    return "\n".join(parts)


def _mean(runs: list[dict[str, Any]], pick: Callable[[dict[str, Any]], float | None]) -> float | None:
    values = [v for v in (pick(r) for r in runs if not _failed(r)) if v is not None]
    return sum(values) / len(values) if values else None


def _target_cpu(outcome: dict[str, Any]) -> float | None:
    value = outcome.get("cpu_us_per_request", {}).get("target")
    return float(value) if value is not None else None


def _hotspots(hotspots: dict[str, Any]) -> str:
    if not hotspots or "failed" in hotspots:
        return "_hotspot timings not run_" if not hotspots else f"_hotspot timings failed_: {hotspots['failed'][-200:]}"
    rows = [[name, f"{value:.2f}"] for name, value in hotspots["us_per_call"].items()]
    return _table(["per-request item (bench/hotspots.py, in-process)", "µs per call"], rows)


def _experiments_section(table: dict[str, Any]) -> str:
    if not table or not table.get("variants"):
        return "_not run_"
    header = ["variant", "small c64 req/s (each run)", "mean vs shipped", "small CPU µs/req", "small p50 ms"]
    header += ["stream TTFT p50 ms", "stream CPU µs/stream", "claude-code c16 req/s", "claude-code p99 ms", "claude-code CPU µs/req"]
    base_rps = _mean(table["variants"].get("as shipped", {}).get("small c64", []), lambda r: float(r["rps"]))
    rows = []
    for key in table.get("order", []):
        variant = table["variants"].get(key, {})
        small = variant.get("small c64", [])
        stream, heavy = variant.get("stream c64", []), variant.get("claude-code json c16", [])
        rps = _mean(small, lambda r: float(r["rps"]))
        change = "-" if rps is None or not base_rps or key == "as shipped" else f"{(rps / base_rps - 1) * 100:+.0f}%"
        rows.append(
            [
                key.replace("+", " + "),
                " / ".join(_num(r["rps"]) for r in small if not _failed(r)) or ("failed" if "failed" in variant else "-"),
                change,
                _num(_mean(small, _target_cpu)),
                _ms(_mean(small, lambda r: _q(r, "latency_ms", "p50"))),
                _ms(_mean(stream, lambda r: _q(r, "ttft_ms", "p50"))),
                _num(_mean(stream, _target_cpu)),
                _num(_mean(heavy, lambda r: float(r["rps"]))),
                _ms(_mean(heavy, lambda r: _q(r, "latency_ms", "p99"))),
                _num(_mean(heavy, _target_cpu)),
            ]
        )
    return "\n".join(
        [
            "babelgate (one worker) as shipped, with all the recommended changes applied as bench-only monkeypatches "
            f"(`bench/experiments.py`; src/ untouched), and with `gc-freeze` alone; the three alternate, {table.get('rounds', 1)} rounds. "
            "Run-to-run spread on this shared VM is about ±15%, so the per-item timings below say more about each change.",
            "",
            _table(header, rows),
            "",
            _hotspots(table.get("hotspots", {})),
        ]
    )


def _alternatives_section(table: dict[str, Any]) -> str:
    if not table:
        return "_not run_"
    if "failed" in table:
        return f"_failed_: {table['failed'][-300:]}"
    from bench import alternatives

    rows = [[step, *(f"{us:.2f}" for us in by_codec.values())] for step, by_codec in table.get("json_us", {}).items()]
    return "\n".join(
        [
            "Minimal relays, OpenAI chat in → OpenAI chat out, one process each (`bench/alternatives.py`; "
            f"{table.get('rounds', 1)} round(s), the order reversed every other round; median (range)). "
            "What each candidate would cost to keep the gateway's promises is in the analysis below.",
            "",
            alternatives.table(table),
            "",
            _table(["JSON step (in-process, µs per call)", "orjson", "msgspec"], rows) if rows else "",
        ]
    )


def _goals(results: dict[str, Any]) -> str:
    from bench import goals, goals_speed

    return _table(["target (from the issues)", "measured", "met"], goals.evaluate(results) + goals_speed.evaluate(results))


def _machine(meta: dict[str, Any], results: dict[str, Any]) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in meta.get("packages", {}).items())
    peers = ", ".join(f"{t['label']}" for k, t in results["targets"].items() if k in ("litellm", "ccr"))
    lines = [
        f"- Date: {meta.get('date')}, commit {meta.get('commit')}, {meta.get('mode')} run, {meta.get('minutes')} min",
        f"- CPU: {meta.get('cpu')}, {meta.get('cores')} cores; memory {meta.get('memory_gib')} GiB",
        f"- OS: {meta.get('os')}, Linux {meta.get('kernel')}",
        f"- Python {meta.get('python')}, Node {meta.get('node')}; {packages}",
        f"- Peers: {peers or 'none ran'}",
    ]
    others = [
        float(o["other_cpu_cores"])
        for loads in results.get("scenarios", {}).values()
        if isinstance(loads, dict)
        for by_target in loads.values()
        if isinstance(by_target, dict)
        for o in by_target.values()
        if isinstance(o, dict) and "other_cpu_cores" in o
    ]
    if others:
        lines.append(
            f"- Other processes on the machine during the loads: {sum(others) / len(others):.2f} cores on average, "
            f"{max(others):.2f} at most (out of {meta.get('cores')})"
        )
    for note in meta.get("partial_runs", []):
        lines.append(
            f"- Rerun later with `--only {','.join(note['only'])}`: {note['date']}, commit {note['commit']}, {note['minutes']} min"
        )
    for key, why in results.get("unavailable", {}).items():
        lines.append(f"- **{key} could not run**: {why.splitlines()[0][:200]}")
    return "\n".join(lines)


METHOD = """\
Every process is separate and talks over 127.0.0.1 only: `bench/upstream.py` (raw asyncio on uvloop,
TCP_NODELAY, every response pre-encoded; OpenAI chat on `/v1/chat/completions`, Anthropic on
`/v1/messages`; the model name `bench-<chunks>x<gap ms>` sets the stream shape), `bench/load.py`
(aiohttp client, one keep-alive connection per worker, fixed concurrency, closed loop; records each
request's latency and, for streams, the time until the first `content_block_delta` arrived), and the
target. Every target is asked the same Anthropic `POST /v1/messages` requests and, except the floor,
translates them to the upstream's OpenAI chat endpoint. **direct** sends them straight to the fake
upstream's Anthropic endpoint: the floor every "added" column subtracts. babelgate runs as
`babelgate serve --config F --port P [--workers N]` with its default log level; LiteLLM with
`use_chat_completions_url_for_anthropic_messages`, `num_retries: 0`, `disable_cooldowns`;
claude-code-router with `LOG: false` and the model named `fake,<model>` so its router takes it as is.
Scenarios 7 and 8 send OpenAI chat `POST /v1/chat/completions` requests instead (TTFT: the first
`"tok` text chunk) and add the peers without an Anthropic endpoint for an OpenAI upstream: TensorZero
(its PyPI wheel's gateway, started in-process, observability off, model `tensorzero::model_name::NAME`
on `/openai/v1/chat/completions`) and Portkey (`start-server.js --headless`, the upstream named by its
`x-portkey-provider` / `x-portkey-custom-host` headers, bound to 127.0.0.1 by a preloaded `listen`
wrapper, `bench/peer_files/loopback.cjs`); **direct** there is the fake's own chat endpoint.
Timed loads run a warmup, then the measured window; requests during the warmup are not counted.
CPU µs/req is the target's user+system time over the whole load (warmup included, read from /proc
for the process and its children) divided by the requests it served. Memory is VmRSS from /proc,
summed over the process tree (so `--workers` counts every worker and the parent).
All processes share the machine's cores: the load generator and the fake upstream take CPU from the
target, the same way for every target (the floor shows what they cost)."""


def _faults_section() -> str:
    if not FAULTS.exists():
        return "_not run_"
    import json

    faults = json.loads(FAULTS.read_text())
    if "closed" not in faults:
        return "_not run with this version of bench/faults.py_"
    head = ["loop", "small alone p50 / p99 ms", "during huge errors p50 / p99 ms", "requests during", "RSS idle → peak MB"]
    head.append("huge → 502, median s")
    rows = []
    for mode in ("closed", "paced"):
        run = faults[mode]
        alone, during = run["small_alone"], run["small_during"]
        rows.append(
            [
                mode,
                f"{alone['p50_ms']} / {alone['p99_ms']}",
                f"{during['p50_ms']} / {during['p99_ms']}",
                f"{during['requests']:,} ({during['failed']} failed)",
                f"{run['idle_rss_mb']} → {run['peak_rss_mb']}",
                f"{run['huge']['median_seconds']} ({run['huge']['requests']} of them, statuses {run['huge']['statuses']})",
            ]
        )
    load = " ".join(faults.get("load_average", []))
    note = (
        f"{faults['rounds']} rounds of 20 concurrent requests, each meeting a 64 MB upstream 500, while 50 clients send small "
        "requests: *closed* loops back to back, *paced* loops one request every 0.1 s each (500/s in all). "
        f"Load average when it ended: {load or 'not recorded'}. Raw numbers in `bench/results/faults.json`."
    )
    return note + "\n\n" + _table(head, rows)


def render(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    scenarios = results.get("scenarios", {})
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.run`); raw numbers in `bench/results/latest.json`. "
        "Do not edit the tables by hand: rerun the bench. The analysis section comes from `bench/analysis.md`.",
        "",
        "## Targets from the issue",
        "",
        _goals(results),
        "",
        "## Machine and versions",
        "",
        _machine(meta, results),
        "",
        "## Method",
        "",
        METHOD,
    ]
    sections = [
        ("1. Small non-streaming request", "small", _latency_table),
        ("2. 200-chunk stream (5 ms between chunks), concurrency 64", "stream", _stream_table),
        ("3. Real Claude Code requests (~50 KB), Anthropic → OpenAI", "claude-code", None),
        ("4. Concurrent slow streams held open (one chunk a second)", "held-streams", _held_table),
        ("7. Small non-streaming request, OpenAI chat in → OpenAI chat out", "openai-small", _latency_table),
        ("8. Streams, OpenAI chat in → OpenAI chat out", "openai-stream", _stream_table),
    ]
    for title, key, table in sections:
        out += ["", f"## {title}", ""]
        loads = scenarios.get(key)
        if not loads:
            out.append("_not run_")
            continue
        for load, by_target in loads.items():
            out += [f"**{load}**", ""]
            chosen = table or (_stream_table if load.startswith("sse") else _latency_table)
            out += [chosen(results, by_target), ""]
    out += ["", "## 5. Translation alone", "", _translate_section(results.get("translate", {}))]
    out += ["", "## 6. Idle memory after start", "", _idle_table(results, scenarios["idle"]) if scenarios.get("idle") else "_not run_"]
    out += ["", "## 9. Huge upstream error bodies beside small requests (`python -m bench.faults`)", "", _faults_section()]
    out += ["", "## Profile of the hot path", "", _profile_section(results.get("profile", {}))]
    out += ["", "## Before and after the recommended changes", "", _experiments_section(results.get("experiments", {}))]
    out += ["", "## Server and client alternatives", "", _alternatives_section(results.get("alternatives", {}))]
    if ANALYSIS.exists():
        out += ["", ANALYSIS.read_text().strip()]
    return "\n".join(out) + "\n"


def main() -> None:
    """`python -m bench.report`: rewrite docs/BENCHMARKS.md from bench/results/latest.json (after editing bench/analysis.md)."""
    import json

    root = Path(__file__).resolve().parent.parent
    results = json.loads((root / "bench" / "results" / "latest.json").read_text())
    (root / "docs" / "BENCHMARKS.md").write_text(render(results))


if __name__ == "__main__":
    main()
