"""Azure OpenAI's routes for clients: the `openai` SDK's `AzureOpenAI` client, or any tool set up for Azure.

Chat Completions at `/openai/deployments/{deployment}/chat/completions?api-version=...` (the
deployment is the model name, routed like any other) and `/openai/v1/chat/completions`; the
Responses API at `/openai/responses?api-version=...` and `/openai/v1/responses` (the model in the
body). Bodies, answers and errors are OpenAI's. The gateway's own `api_keys` are checked, given
in `api-key` as Azure clients send them (or `Authorization: Bearer`); `api-version` is accepted
and not checked.
"""

from __future__ import annotations

from aiohttp import web

from babelgate.dialects import openai_chat, openai_responses
from babelgate.server.serve import serve

PREFIX = "/openai/"


def owns(path: str) -> bool:
    return path.startswith(PREFIX)


async def deployment_chat(request: web.Request) -> web.StreamResponse:
    return await serve(request, openai_chat, request.match_info["deployment"])


async def chat(request: web.Request) -> web.StreamResponse:
    return await serve(request, openai_chat)


async def responses(request: web.Request) -> web.StreamResponse:
    return await serve(request, openai_responses)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(PREFIX + "deployments/{deployment}/chat/completions", deployment_chat)
    router.add_post(PREFIX + "v1/chat/completions", chat)
    router.add_post(PREFIX + "responses", responses)
    router.add_post(PREFIX + "v1/responses", responses)
