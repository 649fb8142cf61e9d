"""Google OAuth access tokens for one provider: google-auth credentials, cached, refreshed before expiry.

`GoogleTokens` loads the credentials on first use: a service-account JSON (`credentials_file`;
its `token_uri` is where google-auth asks for tokens), or Application Default Credentials
(`google.auth.default()`: GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, the metadata
server). It keeps one access token and refreshes it shortly before it expires, never per
request, one refresh at a time: concurrent requests wait under one lock for the refresh under
way. google-auth refreshes synchronously (over requests), so the refresh runs in a
worker thread and the event loop never waits on it. A refresh survives the cancellation of the
request that started it: the next caller joins it rather than starting another.

Errors never carry the key, the signed assertion or a token: google-auth's messages are
scrubbed of anything shaped like one.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Any

try:
    import google.auth
    import requests
    from google.auth import exceptions, transport
except ImportError as missing:  # an optional extra
    raise ImportError(f"provider type 'vertex' needs google-auth: pip install 'babelgate[vertex]' ({missing})") from None

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TOKEN_TIMEOUT = 30.0  # seconds for one call to the token endpoint
MARGIN = 240.0  # refresh this long before expiry (google-auth's own threshold is 3m45s) ...
MARGIN_SHARE = 0.25  # ... or this share of the token's lifetime, whichever is less
UNKNOWN_LIFETIME = 3000.0  # credentials that do not say when their token expires are refreshed after this
_SECRETISH = re.compile(r"-----BEGIN[^-]*-----.*?-----END[^-]*-----|eyJ[\w-]*\.[\w-]+\.[\w-]+|ya29\.[\w.-]+", re.S)


class TokenError(Exception):
    """No token. `status`: 401 when the credentials are missing, unreadable or refused; 502 when the token
    endpoint failed; 0 when it was unreachable."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Token:
    __slots__ = ("expires_at", "refresh_at", "value")

    def __init__(self, value: str, expires_at: float, now: float) -> None:
        self.value = value
        self.expires_at = expires_at
        self.refresh_at = expires_at - min(MARGIN, max(expires_at - now, 0.0) * MARGIN_SHARE)


class _Response(transport.Response):
    def __init__(self, response: requests.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Any:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class _Transport(transport.Request):
    """google-auth's transport interface over one pooled requests session, every call bounded by
    TOKEN_TIMEOUT. Not google-auth's own requests transport: that one logs request bodies at debug
    level when the `google` logger is configured, and the body of a token request is the signed
    assertion, a credential in itself."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None, timeout: Any = None, **kwargs: Any) -> Any:
        bounded = TOKEN_TIMEOUT if timeout is None else min(timeout, TOKEN_TIMEOUT)
        try:
            response = self._session.request(method, url, data=body, headers=headers, timeout=bounded, **kwargs)
        except requests.RequestException as error:
            raise exceptions.TransportError(scrub(str(error))[:300] or type(error).__name__) from None  # type: ignore[no-untyped-call]
        return _Response(response)


def scrub(text: str) -> str:
    return _SECRETISH.sub("[redacted]", text)


class GoogleTokens:
    def __init__(self, credentials_file: str | None) -> None:
        self.credentials_file = credentials_file
        self.generation = 0  # counts the tokens obtained; `renew` names the one the upstream refused
        self._credentials: Any = None
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self._job: asyncio.Future[_Token] | None = None
        self._http = requests.Session()
        self._transport = _Transport(self._http)

    def _fresh(self) -> _Token | None:
        token = self._token
        return token if token is not None and time.time() < token.refresh_at else None

    async def token(self) -> str:
        """A valid access token, from the cache unless it is about to expire."""
        token = self._fresh()
        if token is None:
            async with self._lock:
                token = self._fresh() or await self._refresh()
        return token.value

    async def renew(self, generation: int) -> None:
        """The upstream refused token number `generation`: get another, unless a newer one came meanwhile."""
        async with self._lock:
            if self.generation == generation:
                await self._refresh()

    async def _refresh(self) -> _Token:
        if self._job is None or self._job.done():
            self._job = asyncio.ensure_future(asyncio.to_thread(self._fetch))
            self._job.add_done_callback(self._install)
        return await asyncio.shield(self._job)

    def _install(self, job: asyncio.Future[_Token]) -> None:
        if not job.cancelled() and job.exception() is None:
            self._token = job.result()
            self.generation += 1

    def _fetch(self) -> _Token:
        """In a worker thread: load the credentials if need be and ask the token endpoint for a token."""
        try:
            if self._credentials is None:
                self._credentials = self._load()
            self._credentials.refresh(self._transport)
        except exceptions.RefreshError as error:
            detail = scrub(str(error.args[0] if error.args else error))
            if error.retryable:  # the endpoint failed (a 5xx, a timeout), not the credentials
                raise TokenError(502, f"the Google token endpoint failed: {detail}") from None
            raise TokenError(401, f"the Google token endpoint refused the credentials: {detail}") from None
        except exceptions.TransportError as error:
            raise TokenError(0, f"the Google token endpoint is unreachable: {scrub(str(error))}") from None
        except (exceptions.GoogleAuthError, ValueError, OSError) as error:
            raise TokenError(401, f"no usable Google credentials: {scrub(str(error))}") from None
        now = time.time()
        expiry: datetime | None = self._credentials.expiry
        expires_at = expiry.replace(tzinfo=UTC).timestamp() if expiry is not None else now + UNKNOWN_LIFETIME
        return _Token(str(self._credentials.token), expires_at, now)

    def _load(self) -> Any:
        if self.credentials_file:
            credentials, _ = google.auth.load_credentials_from_file(self.credentials_file, scopes=SCOPES)  # type: ignore[no-untyped-call]
        else:
            credentials, _ = google.auth.default(scopes=SCOPES)
        return credentials

    def close(self) -> None:
        self._http.close()
