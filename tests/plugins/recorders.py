"""Third-party addons, as a user would write them outside the babelgate package."""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.addons.base import Addon
from babelgate.call import Call
from babelgate.errors import GatewayError
from babelgate.providers.base import Attempt

CALLS: list[tuple[str, str]] = []  # (addon, hook), in the order the hooks ran


class First(Addon):
    label = "first"

    async def request(self, call: Call) -> ir.Response | None:
        CALLS.append((self.label, "request"))
        return None

    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None:
        CALLS.append((self.label, "upstream_request"))
        body.setdefault("metadata", {})["seen_by"] = [*body.get("metadata", {}).get("seen_by", []), self.label]

    def event(self, call: Call, event: ir.Event) -> None:
        if isinstance(event, ir.Finish):
            CALLS.append((self.label, "event:finish"))

    def response(self, call: Call, response: ir.Response) -> None:
        CALLS.append((self.label, "response"))

    def error(self, call: Call, error: GatewayError) -> GatewayError:
        CALLS.append((self.label, "error"))
        error.message = f"{error.message} [{self.label}]"
        return error


class Second(First):
    label = "second"


class Broken(Addon):
    """Raises in every hook: the gateway must log it and carry on."""

    async def request(self, call: Call) -> ir.Response | None:
        raise RuntimeError("broken addon: request")

    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None:
        raise RuntimeError("broken addon: upstream_request")

    def event(self, call: Call, event: ir.Event) -> None:
        raise RuntimeError("broken addon: event")

    def response(self, call: Call, response: ir.Response) -> None:
        raise RuntimeError("broken addon: response")

    def error(self, call: Call, error: GatewayError) -> GatewayError:
        raise RuntimeError("broken addon: error")


class Warmup(Addon):
    """Answers warmup probes itself, so they never reach an upstream."""

    async def request(self, call: Call) -> ir.Response | None:
        last = call.request.messages[-1]
        if any(isinstance(p, ir.TextPart) and p.text == "Warmup" for p in last.parts):
            return ir.Response("msg_warmup", call.request.model, [ir.TextPart("ready")], usage=ir.Usage(1, 1))
        return None


class Tagging(Addon):
    """Reads its options from the config: `{"tests.plugins.recorders:Tagging": {"tag": ...}}`."""

    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None:
        body["metadata"] = {"tag": self.context.options["tag"]}
