"""A loopback Azure OpenAI resource, as strict as the real one about routes, versions and keys.

Built on FakeUpstream (same `received` log, same `push` queue for scripted answers), with a
script that first does what Azure does before any model runs:

- the dated API, `/openai/deployments/{name}/chat/completions` and `/openai/models`, needs an
  `api-version` it knows; a missing or unknown one is a 404 "Resource not found";
- the v1 API, `/openai/v1/chat/completions` and `/openai/v1/models`, takes no api-version
  (or `v1` / `preview`), and names the deployment in the body's `model`;
- the key travels in `api-key`; a wrong or missing one is a 401 "Access denied due to invalid
  subscription key or wrong API endpoint". `Authorization: Bearer` carries a Microsoft Entra
  token on the dated API, so a key sent there is refused as an invalid token (a 401 in the
  token check's own `{"statusCode", "message"}` shape); the v1 API documents a key in
  `Authorization` as accepted, and so does this fake;
- with a token source (`identity`, tests/fakes/entra.py), `Authorization: Bearer` also takes the
  Microsoft Entra tokens it issued for https://cognitiveservices.azure.com, and only while they
  last: an expired, foreign or other-audience token gets the same 401 as any bad token;
- the Responses API: `/openai/v1/responses`, and the dated `/openai/responses?api-version=...`
  (preview versions from 2025-03-01-preview on), both naming the deployment in the body's `model`;
- a deployment the resource lacks is a 404 DeploymentNotFound;
- anything else is a 404 "Resource not found".

Requests that pass get the next pushed reply, or else a default completion of `text` (a stream
when the body asks for one). Like Azure's, a stream opens with a frame of prompt content-filter
results whose `choices` is empty, and completions carry content-filter results.
"""

from __future__ import annotations

from typing import Any

from tests.fakes import openai_wire as wire
from tests.fakes import turns
from tests.fakes.entra import FakeManagedIdentity
from tests.fakes.upstream import FakeUpstream, Received, Reply

API_VERSIONS = frozenset(
    {"2024-06-01", "2024-10-21", "2024-12-01-preview", "2025-01-01-preview", "2025-03-01-preview", "2025-04-01-preview"}
)
RESPONSES_API_VERSIONS = frozenset({"2025-03-01-preview", "2025-04-01-preview"})
AUDIENCE = "https://cognitiveservices.azure.com"
V1_VERSIONS = frozenset({"v1", "preview"})
MODEL = "gpt-4o-2024-08-06"

BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key"
    " for an active subscription and use a correct regional API endpoint for your resource."
)
BAD_TOKEN = "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."
NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist."
    " If you created the deployment within the last 5 minutes, please wait a moment and try again."
)

SAFE = {category: {"filtered": False, "severity": "safe"} for category in ("hate", "self_harm", "sexual", "violence")}


def azure_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def not_found() -> Reply:
    return azure_error(404, "404", "Resource not found")


def prompt_filter_frame() -> dict[str, Any]:
    """The frame an Azure stream opens with: no choices, the prompt's content-filter results."""
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": SAFE}],
    }


class FakeAzure(FakeUpstream):
    def __init__(
        self,
        keys: tuple[str, ...],
        deployments: tuple[str, ...],
        text: str = "Hello from Azure",
        identity: FakeManagedIdentity | None = None,
    ) -> None:
        super().__init__()
        self.identity = identity
        self.keys = set(keys)
        self.deployments = set(deployments)
        self.text = text
        self.script = self._azure

    def _azure(self, record: Received) -> Reply:
        parts = record.path.strip("/").split("/")  # aiohttp decodes the path: a quoted deployment name arrives whole
        version = record.query.get("api-version")
        v1 = parts[:2] == ["openai", "v1"]
        if v1:
            route, known_version = parts[2:], version is None or version in V1_VERSIONS
        elif parts[:1] == ["openai"]:
            route, known_version = parts[1:], version in API_VERSIONS
        else:
            return not_found()
        if not known_version:
            return not_found()
        if record.method == "GET" and route == ["models"]:
            return self._refused(record.headers, v1) or Reply(json=self._models())
        responses = record.method == "POST" and route == ["responses"] and (v1 or version in RESPONSES_API_VERSIONS)
        if (record.method == "POST" and v1 and route == ["chat", "completions"]) or responses:
            deployment = record.body.get("model") if isinstance(record.body, dict) else None
        elif record.method == "POST" and not v1 and len(route) == 4 and route[0] == "deployments" and route[2:] == ["chat", "completions"]:
            deployment = route[1]
        else:
            return not_found()
        refused = self._refused(record.headers, v1)
        if refused is not None:
            return refused
        if deployment not in self.deployments:
            return azure_error(404, "DeploymentNotFound", NO_DEPLOYMENT)
        if self.queue:
            return self.queue.pop(0)
        if responses:
            return turns.reply("openai-responses", turns.Turn(text=self.text), bool(record.body.get("stream")))
        return self._answer(record.body)

    def _refused(self, headers: dict[str, str], v1: bool) -> Reply | None:
        """None when the request carries a key of this resource the way the API takes it."""
        if "api-key" in headers:
            return None if headers["api-key"] in self.keys else azure_error(401, "401", BAD_KEY)
        authorization = headers.get("authorization", "")
        bearer = authorization.removeprefix("Bearer ")
        if v1 and bearer in self.keys:
            return None
        if self.identity is not None and self.identity.check(authorization, AUDIENCE) is None:
            return None
        if bearer:  # refused as a Microsoft Entra token, in that check's own shape
            return Reply(401, {"statusCode": 401, "message": BAD_TOKEN})
        return azure_error(401, "401", BAD_KEY)

    def _models(self) -> dict[str, Any]:
        data = [{"id": MODEL, "object": "model", "created_at": 1723075200, "status": "succeeded"}]
        return {"object": "list", "data": data}

    def _answer(self, body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            half = len(self.text) // 2
            chunks = [prompt_filter_frame(), *wire.text_stream(self.text[:half], self.text[half:], usage=False)]
            for chunk in chunks[1:]:
                chunk["model"] = MODEL  # Azure names the model behind the deployment
                for choice in chunk["choices"]:
                    choice["content_filter_results"] = SAFE if choice["delta"].get("content") else {}
            if (body.get("stream_options") or {}).get("include_usage"):
                chunks.append({**wire.usage_chunk(), "model": MODEL})
            return wire.stream_reply(chunks)
        completion = wire.completion(self.text, model=MODEL)
        completion["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": SAFE}]
        completion["choices"][0]["content_filter_results"] = SAFE
        return Reply(json=completion)
