"""AWS credentials from the standard chain, and SigV4 signing, both by botocore.

`AwsCredentials` resolves botocore's credential chain once (environment variables, the shared
config and credentials files with an optional profile, SSO, web identity, credential_process,
container and instance roles) and keeps what it found. Temporary credentials come back as
botocore's refreshable credentials, which ask for new ones 15 minutes before they expire.
botocore is synchronous and its providers do I/O (files, STS, SSO, the metadata services), so the
first resolution and every refresh run in a worker thread, bounded by `RESOLVE_TIMEOUT`; between
refreshes, taking the current credentials is a few attribute reads.

Failures become `CredentialsUnavailable` with botocore's own words (which name no secret), and an
IAM Identity Center (SSO) failure says which `aws sso login` to run. botocore's wire-level debug
lines (the canonical request, each request's parameters and each response's body) carry session
tokens, web identity tokens, SSO bearer tokens and the secret keys STS and SSO hand back, so the
loggers that write them stay at INFO even when the gateway logs at DEBUG.

`sign` adds the SigV4 `Authorization`, `X-Amz-Date` and (for temporary credentials)
`X-Amz-Security-Token` headers to one request, over the exact URL, headers and body bytes sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, SSOError, TokenRetrievalError
from botocore.session import Session

T = TypeVar("T")
RESOLVE_TIMEOUT = 30.0
# At DEBUG, botocore.auth logs each canonical request (the session token in it), botocore.endpoint each
# request's parameters and headers (a web identity token, an SSO bearer token), botocore.parsers each
# response body (the secret keys STS and the SSO portal return).
for _wire in ("botocore.auth", "botocore.endpoint", "botocore.parsers"):
    logging.getLogger(_wire).setLevel(logging.INFO)


class CredentialsUnavailable(Exception):
    """The chain found no credentials, or could not refresh them; the message says why (and holds no secret)."""


class AwsCredentials:
    def __init__(self, profile: str | None, region: str) -> None:
        self.profile = profile
        self.region = region
        self._credentials: Credentials | None = None
        self._profile_used = profile or "default"  # the profile botocore read (AWS_PROFILE when `profile` is unset)
        self._lock = asyncio.Lock()

    async def current(self) -> ReadOnlyCredentials:
        """The credentials to sign with now: resolved on first use, refreshed (off the loop) when botocore says so."""
        credentials = self._credentials
        if credentials is not None and not _refresh_due(credentials):
            return credentials.get_frozen_credentials()
        async with self._lock:  # one resolution or refresh at a time; the others wait for it
            if self._credentials is None:
                self._credentials, frozen = await self._in_thread(self._resolve)
                return frozen
            credentials = self._credentials
            if _refresh_due(credentials):
                return await self._in_thread(credentials.get_frozen_credentials)
            return credentials.get_frozen_credentials()

    def _resolve(self) -> tuple[Credentials, ReadOnlyCredentials]:
        session = Session(profile=self.profile)
        self._profile_used = session.profile or "default"
        session.set_config_variable("region", self.region)  # regional STS for assumed roles
        credentials = session.get_credentials()
        if credentials is None:
            where = f"profile {self.profile!r}" if self.profile else "the standard chain"
            raise CredentialsUnavailable(f"no AWS credentials found in {where} (environment, shared files, SSO, roles)")
        return credentials, credentials.get_frozen_credentials()  # deferred providers (SSO, roles) fetch here, in this thread

    async def _in_thread(self, job: Callable[[], T]) -> T:
        try:
            return await asyncio.wait_for(asyncio.to_thread(job), RESOLVE_TIMEOUT)
        except TimeoutError:
            raise CredentialsUnavailable(f"AWS credentials did not resolve within {RESOLVE_TIMEOUT:.0f}s") from None
        except (BotoCoreError, ClientError, OSError, ValueError) as error:  # OSError, ValueError: an unreadable token file
            message = f"AWS credentials could not be resolved: {str(error).rstrip('.')}."
            if isinstance(error, SSOError) or (isinstance(error, TokenRetrievalError) and error.kwargs.get("provider") == "sso"):
                message += f" Run `aws sso login --profile {self._profile_used}`, then `babelgate accounts verify`."
            raise CredentialsUnavailable(message) from None


def _refresh_due(credentials: Credentials) -> bool:
    return isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed()


def sign(method: str, url: str, headers: dict[str, str], body: bytes, credentials: ReadOnlyCredentials, region: str) -> None:
    """Sign one Bedrock request (service `bedrock`) in place: `headers` gains the SigV4 headers."""
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    SigV4Auth(credentials, "bedrock", region).add_auth(request)
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        if name in request.headers:
            headers[name] = request.headers[name]
