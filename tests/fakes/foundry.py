"""A loopback Azure AI Foundry resource serving Claude through the Anthropic Messages API.

As strict as Foundry about what the gateway controls:

- the one route is `POST /anthropic/v1/messages`; anything else is Azure's 404 "Resource not found";
- the key travels in `x-api-key` (the header Anthropic's Foundry client authenticates with; it
  also sends `api-key`, which this fake accepts too); a missing or wrong key is Azure's 401
  `{"error": {"code": "401", "message": "Access denied due to invalid subscription key..."}}`;
- with a token source (`identity`), `Authorization: Bearer` takes the Microsoft Entra tokens it
  issued for https://ai.azure.com while they last; any other bearer token is a 401;
- `anthropic-version` is required, as on Anthropic's API (a 400 `invalid_request_error`);
- the body's `model` names a deployment of the resource, else Anthropic's 404 `not_found_error`.

Requests that pass get the next pushed reply, or else a Claude turn saying `text` (streamed when
the body asks), written by tests/fakes/turns.py.
"""

from __future__ import annotations

from tests.fakes import turns
from tests.fakes.azure import BAD_KEY, azure_error, not_found
from tests.fakes.entra import FakeManagedIdentity
from tests.fakes.upstream import FakeUpstream, Received, Reply

AUDIENCE = "https://ai.azure.com"
BAD_TOKEN = "Unauthorized. Access token is missing, invalid, audience is incorrect (https://ai.azure.com), or have expired."


def anthropic_error(status: int, kind: str, message: str) -> Reply:
    return Reply(status, {"type": "error", "error": {"type": kind, "message": message}})


class FakeFoundry(FakeUpstream):
    def __init__(
        self,
        keys: tuple[str, ...],
        deployments: tuple[str, ...],
        text: str = "Hello from Foundry",
        identity: FakeManagedIdentity | None = None,
    ) -> None:
        super().__init__()
        self.keys = set(keys)
        self.deployments = set(deployments)
        self.text = text
        self.identity = identity
        self.script = self._foundry

    def _foundry(self, record: Received) -> Reply:
        if (record.method, record.path) != ("POST", "/anthropic/v1/messages"):
            return not_found()
        refused = self._refused(record.headers)
        if refused is not None:
            return refused
        if "anthropic-version" not in record.headers:
            return anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        body = record.body if isinstance(record.body, dict) else {}
        if body.get("model") not in self.deployments:
            return anthropic_error(404, "not_found_error", f"model: {body.get('model')}")
        if self.queue:
            return self.queue.pop(0)
        return turns.reply("anthropic", turns.Turn(text=self.text), bool(body.get("stream")))

    def _refused(self, headers: dict[str, str]) -> Reply | None:
        key = headers.get("x-api-key") or headers.get("api-key")
        if key is not None:
            return None if key in self.keys else azure_error(401, "401", BAD_KEY)
        authorization = headers.get("authorization", "")
        if authorization and self.identity is not None and self.identity.check(authorization, AUDIENCE) is None:
            return None
        if authorization:
            return azure_error(401, "401", BAD_TOKEN)
        return azure_error(401, "401", BAD_KEY)
