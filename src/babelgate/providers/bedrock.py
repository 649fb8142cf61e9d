"""Amazon Bedrock (`type: bedrock`): Anthropic's models through InvokeModel, every other model through Converse.

Where: `https://bedrock-runtime.{region}.amazonaws.com`, or `base_url` (a VPC endpoint, a test
server). Which API: a model id that names Anthropic's (`anthropic.claude-…`, the inference profiles
`us.anthropic.…`, `global.anthropic.…`, ARNs that hold either) goes to InvokeModel with the
Anthropic Messages body (providers/bedrock_invoke.py), so an Anthropic client's own body (prompt
caching, thinking, betas) passes through and its stream comes back as Anthropic SSE; any other
model (Nova, Llama, Mistral, an application inference profile...) goes to Converse
(dialects/bedrock_converse).

Credentials: `api_keys` are Bedrock API keys, sent as `Authorization: Bearer` (no signing).
Without any, every request is signed with SigV4 (service `bedrock`, the provider's region) using
the standard AWS credential chain, or `profile` from the shared files (providers/aws.py).

Errors: Bedrock's types (`x-amzn-ErrorType`, the body's `message`) become the cooldown reasons
(providers/bedrock_errors.py).

`verify` asks the control plane for ListFoundationModels (`GET /foundation-models` on
`https://bedrock.{region}.amazonaws.com`, or on `base_url` when that is set), which costs nothing
and is authenticated like every request. An AccessDeniedException there means the credentials were
accepted but may not list models: that counts as valid, and the detail says so.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import quote

import orjson

from babelgate.config import ProviderConfig
from babelgate.dialects import anthropic, bedrock_converse
from babelgate.dialects.base import Dialect
from babelgate.errors import UpstreamError
from babelgate.providers import bedrock_errors
from babelgate.providers.aws import AwsCredentials, CredentialsUnavailable, sign
from babelgate.providers.base import Attempt, Credential, Outgoing
from babelgate.providers.bedrock_invoke import AnthropicSSE, invoke_body, is_anthropic
from babelgate.providers.classify import Failure, Reason
from babelgate.providers.counting import CountRequest
from babelgate.providers.eventstream import EventStreamFraming
from babelgate.providers.framing import SSEFraming
from babelgate.providers.http import ERROR_TEXT_LIMIT, VERIFY_SECONDS, HttpUpstream
from babelgate.providers.stream import READ_ERRORS, StreamReader, reason
from babelgate.providers.transport import Answer

DEFAULT_REGION = "us-east-1"
_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|jp|au|ca|us-gov|global)\.(?=[a-z]+\.)")  # a cross-region inference profile's


class BedrockUpstream(HttpUpstream):
    dialect = anthropic  # what an Anthropic client's body passes through to (the Anthropic models)

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self.region = config.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        self.aws = AwsCredentials(config.profile, self.region)

    @cached_property
    def api_root(self) -> str:
        return self.config.base_url or f"https://bedrock-runtime.{self.region}.amazonaws.com"

    @cached_property
    def control_root(self) -> str:
        return self.config.base_url or f"https://bedrock.{self.region}.amazonaws.com"

    def dialect_for(self, model: str) -> Dialect:
        return anthropic if is_anthropic(model) else bedrock_converse

    def url(self, model: str, stream: bool) -> str:
        if is_anthropic(model):
            action = "invoke-with-response-stream" if stream else "invoke"
        else:
            action = "converse-stream" if stream else "converse"
        return f"{self.api_root}/model/{quote(model, safe=':')}/{action}"  # ':' as the AWS SDKs send it; '/' (ARNs) as %2F

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": self.api_root, "region": self.region}

    def count_request(self, attempt: Attempt) -> CountRequest:
        """CountTokens for the InvokeModel body (Anthropic models) or the Converse request (the others). It
        takes foundation-model ids only, so a cross-region profile's `us.` (`eu.`, `global.` ...) is dropped."""
        model = _PROFILE_PREFIX.sub("", attempt.model, count=1)
        url = f"{self.api_root}/model/{quote(model, safe=':')}/count-tokens"
        body = self.encode(attempt)
        if is_anthropic(attempt.model):
            return CountRequest(url, {"input": {"invokeModel": {"body": base64.b64encode(orjson.dumps(body)).decode()}}}, "inputTokens")
        converse = {key: body[key] for key in ("messages", "system", "toolConfig", "additionalModelRequestFields") if key in body}
        return CountRequest(url, {"input": {"converse": converse}}, "inputTokens")

    def encode(self, attempt: Attempt) -> dict[str, Any]:
        body = super().encode(attempt)
        return invoke_body(body, attempt.client_headers) if is_anthropic(attempt.model) else body

    def reader(self, response: Answer, attempt: Attempt) -> StreamReader:
        if is_anthropic(attempt.model):
            framing = SSEFraming(self.config.limits.max_event_bytes)
            return StreamReader(self.name, response.content, framing, anthropic.stream_parser(), AnthropicSSE())
        return StreamReader(self.name, response.content, EventStreamFraming(), bedrock_converse.stream_parser())

    async def authenticate(self, request: Outgoing, credential: Credential) -> None:
        if credential.key:  # a Bedrock API key
            request.headers["Authorization"] = f"Bearer {credential.key}"
            return
        try:
            credentials = await self.aws.current()
        except CredentialsUnavailable as error:
            raise self.error(401, f"{self.name}: {error}") from None
        sign(request.method, request.url, request.headers, request.body, credentials, self.region)

    def classify(self, status: int, headers: dict[str, str], body: Any, message: str) -> Failure:
        return bedrock_errors.failure(status, headers, body, message)

    async def _error_reply(self, response: Answer, credential: Credential) -> UpstreamError:
        status, headers, body = response.status, dict(response.headers), _json(await self.error_body(response))
        return self.error(status, self._message(status, headers, body, credential), headers, body)

    def _message(self, status: int, headers: Mapping[str, str], body: Any, credential: Credential) -> str:
        message = bedrock_converse.error_message(body)
        if credential.key:  # never echo a key back
            message = message.replace(credential.key, credential.redacted)
        return bedrock_errors.client_message(self.name, status, bedrock_errors.error_type(headers, body), message)

    async def verify(self, credential: Credential) -> tuple[int, str]:
        """ListFoundationModels on the control plane: (status, detail); 0 when unreachable."""
        outgoing = Outgoing("GET", f"{self.control_root}/foundation-models", dict(self.config.headers))
        try:
            await self.authenticate(outgoing, credential)
        except UpstreamError as error:
            return error.upstream_status, error.message
        try:
            async with asyncio.timeout(VERIFY_SECONDS), await self.client.request("GET", outgoing.url, outgoing.headers) as response:
                status, headers, body = response.status, dict(response.headers), _json(await self.error_body(response))
        except (*READ_ERRORS, OSError) as error:
            return 0, f"unreachable: {reason(error)}"
        if status == 200:
            return 200, "ok"
        message = self._message(status, headers, body, credential)
        if bedrock_errors.failure(status, headers, body, message).reason is Reason.PERMISSION:
            return 200, f"ok: the credentials were accepted, but may not list foundation models ({message})"
        return status, message


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")[:ERROR_TEXT_LIMIT]
