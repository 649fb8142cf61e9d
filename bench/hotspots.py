"""Per-request items the profile flagged, timed alone: `python -m bench.hotspots` prints JSON (µs per call).

End-to-end before/after runs on a shared 2-core VM move by ±15% from run to run; these
in-process timings are what each recommended change saves per request, precisely.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from bench import fixtures
from bench.translate import measure

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # babelgate.cli.main._configure_logging


def _logger(path: Path, level: int) -> logging.Logger:
    logger = logging.getLogger(f"bench.hotspots.{level}")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def run(budget: float) -> dict[str, Any]:
    import yarl

    from babelgate.dialects import anthropic
    from babelgate.observe.usage import today
    from babelgate.routing.sessions import session_key

    small = anthropic.parse_request({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello."}]})
    fixture = fixtures.claude_code()[0]
    big = anthropic.parse_request(fixture.body)
    headers = {k.lower(): v for k, v in fixture.headers.items()}
    no_session = {k: v for k, v in headers.items() if k != "x-claude-code-session-id"}
    with tempfile.TemporaryDirectory() as folder:
        on = _logger(Path(folder) / "on.log", logging.INFO)
        off = _logger(Path(folder) / "off.log", logging.WARNING)
        args = ("POST", "/v1/messages", 200, 1.234, "fake/bench-fast via fake#0")
        timings = {
            "access log line at INFO (to a file)": measure(partial(on.info, "%s %s %s %.1fms %s", *args), budget),
            "access log call below the level": measure(partial(off.info, "%s %s %s %.1fms %s", *args), budget),
            "session_key, small request (sha256 of the first message)": measure(partial(session_key, small, {}), budget),
            "session_key, Claude Code request without its session header": measure(partial(session_key, big, no_session), budget),
            "session_key, Claude Code request with x-claude-code-session-id": measure(partial(session_key, big, headers), budget),
            "usage.today() (strftime per request)": measure(today, budget),
            "yarl.URL(str) (aiohttp parses a str URL per request)": measure(
                partial(yarl.URL, "http://127.0.0.1:8080/v1/chat/completions"), budget
            ),
            "client headers to a lowercased dict (20 headers)": measure(
                partial(lambda h: {k.lower(): v for k, v in h.items()}, fixture.headers), budget
            ),
        }
    return {"us_per_call": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description="time the profile's per-request hotspots alone")
    parser.add_argument("--budget", type=float, default=0.5)
    args = parser.parse_args()
    sys.stdout.write(json.dumps(run(args.budget)) + "\n")


if __name__ == "__main__":
    main()
