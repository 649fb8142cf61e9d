"""Usage scaling (opt-in): Claude Code sees a huge-window model's prompt size on a ~200K scale.

Claude Code compacts a conversation by the input tokens it is told about, against the window it
assumes (200K for a model name it does not know). On a model with a window of 1M or 2M tokens it
would compact at a fifth of the room there is. With `addons: {usage_scaling: true}` the input
tokens reported to the client follow Antigravity-Manager's curve (its `to_claude_usage`, proxy
mappers for Claude): up to 30,000 tokens nothing changes; above, the share of the real window in
use is shown as a share of 195,000 tokens, squeezed where there is room and close to 1:1 at the end:

    real share of the window   shown share of 195,000
    0 - 50 %                   0.6 x the real share (50 % -> 30 %)
    50 - 70 %                  30 % -> 50 %, linearly
    70 - 85 %                  50 % -> 70 %, linearly
    85 - 100 %                 70 % -> 97 %, linearly (never more than 97 %)

so Claude Code compacts when the real window is nearly full. The reported input splits between
`input_tokens` and cache reads in the proportions the upstream reported. Models whose window is
unknown or no larger than 200K tokens are left alone, and so is a reply passed through from an
upstream that speaks the client's format. It runs after the `usage` addon: babelgate's own
accounting (`/account-limits`, the store) keeps the real numbers.
"""

from __future__ import annotations

import dataclasses
import itertools

from babelgate import ir
from babelgate.addons.base import Addon
from babelgate.call import Call

THRESHOLD = 30_000  # prompts up to this size are reported as they are
TARGET_MAX = 195_000  # the scale shown: close to the 200K window Claude Code assumes
ASSUMED_WINDOW = 200_000  # windows up to this need no scaling
# (real share of the window, shown share of TARGET_MAX) at the ends of each linear stage
_STAGES = ((0.0, 0.0), (0.5, 0.3), (0.7, 0.5), (0.85, 0.7), (1.0, 0.97))
WINDOW = "usage_scaling.window"  # the call's note: the serving model's context window


def scaled(total: int, window: int) -> int:
    """The prompt size to report for `total` real tokens on a model with a `window`-token context."""
    if total <= THRESHOLD or window <= ASSUMED_WINDOW:
        return total
    share = total / window
    for (low, shown_low), (high, shown_high) in itertools.pairwise(_STAGES):
        if share <= high:
            return int((shown_low + (share - low) / (high - low) * (shown_high - shown_low)) * TARGET_MAX)
    return int(_STAGES[-1][1] * TARGET_MAX)


def scale_usage(usage: ir.Usage, window: int) -> ir.Usage:
    """A copy of `usage` with its input (fresh and cached) scaled; output tokens are never touched.

    A copy, since a parser may hand the same object to a stream's Start and Finish, and the
    ledger has the real one."""
    total = usage.input_tokens + usage.cache_read_tokens
    shown = scaled(total, window)
    if shown == total:
        return usage
    cached = int(shown * usage.cache_read_tokens / total)
    return dataclasses.replace(usage, input_tokens=shown - cached, cache_read_tokens=cached)


class UsageScaling(Addon):
    name = "usage_scaling"

    def _window(self, call: Call) -> int:
        served, router = call.served, self.context.router
        if served is None or served.passthrough or router is None:
            return 0
        if WINDOW not in call.notes:
            spec = router.catalog.lookup(served.credential.provider, served.model)
            call.notes[WINDOW] = spec.context_window or 0
        window: int = call.notes[WINDOW]
        return window

    def event(self, call: Call, event: ir.Event) -> None:
        if isinstance(event, ir.Start | ir.Finish) and event.usage is not None and (window := self._window(call)):
            event.usage = scale_usage(event.usage, window)

    def response(self, call: Call, response: ir.Response) -> None:
        if window := self._window(call):
            response.usage = scale_usage(response.usage, window)
