"""What the cloud formats Claude Code speaks (Bedrock InvokeModel, Vertex rawPredict) share.

Both carry an Anthropic Messages body without `model` (it is in the URL), with the body fields
`anthropic_version` (`bedrock-2023-05-31`, `vertex-2023-10-16`) and, on Bedrock, `anthropic_beta`.
`anthropic_body` takes those out, so the body is plain Anthropic for any upstream, and moves the
betas into the `anthropic-beta` header an Anthropic-type upstream is sent. `model_name` picks the
name to route: the model id as sent when the config knows it, else its plain Anthropic name
(`us.anthropic.claude-sonnet-4-5-20250929-v1:0` and `claude-sonnet-4-5@20250929` are both tried
as `claude-sonnet-4-5-20250929`), so `claude-*` aliases serve the cloud ids too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from babelgate.errors import BadRequest, GatewayError
from babelgate.server.gateway import GATEWAY

CLOUD_FIELDS = ("anthropic_version", "anthropic_beta")
_PROFILE = re.compile(r"^(?:[a-z]{2,6}(?:-gov)?\.)?anthropic\.")  # `anthropic.` or a cross-region `us.anthropic.`
_VERSION = re.compile(r"(?:-v\d+)?(?::\d+)?$")  # Bedrock's `-v1:0`


def betas_of(body: dict[str, Any]) -> list[str]:
    betas = body.get("anthropic_beta")
    if betas is None:
        return []
    if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
        raise BadRequest("anthropic_beta", "expected an array of strings")
    return betas


def anthropic_body(request: web.Request, body: dict[str, Any], stream: bool) -> tuple[dict[str, Any], CIMultiDict[str]]:
    """The body as the Messages API takes it, and the client's headers with the body's betas added."""
    betas = betas_of(body)
    clean = {key: value for key, value in body.items() if key not in CLOUD_FIELDS}
    clean["stream"] = stream
    headers = CIMultiDict(request.headers)
    if betas:
        sent = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
        headers["anthropic-beta"] = ",".join(dict.fromkeys([*sent, *betas]))
    return clean, headers


def plain_names(model_id: str) -> list[str]:
    """The model id as sent, then without an ARN's prefix, then as plain Anthropic model names."""
    short = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    names = [model_id, short]
    if "@" in short:  # Vertex: claude-sonnet-4-5@20250929
        name, _, version = short.partition("@")
        names += [f"{name}-{version}", name]
    elif _PROFILE.match(short):  # Bedrock: [us.]anthropic.claude-sonnet-4-5-20250929-v1:0
        names.append(_VERSION.sub("", _PROFILE.sub("", short, count=1)))
    return list(dict.fromkeys(name for name in names if name))


def model_name(request: web.Request, names: Iterable[str]) -> str | None:
    """The first of `names` the routing knows; None when it knows none of them."""
    resolver = request.app[GATEWAY].router.resolver
    for name in names:
        try:
            resolver.resolve(name)
        except GatewayError:
            continue
        return name
    return None


def routed_model(request: web.Request, model_id: str) -> str:
    """The name to route for `model_id`; an unknown one stays as sent, for the router's 404 to name it."""
    return model_name(request, plain_names(model_id)) or model_id
