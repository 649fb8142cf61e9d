"""Bedrock's error shapes, and what each means for the credential that met it.

An error answer is JSON `{"message": "..."}` (`Message` from some front ends) with its type in the
`x-amzn-ErrorType` header, `ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`
(or in the body as `__type`). The runtime's types and statuses, as its API model has them
(bedrock-runtime service-2.json): ThrottlingException 429, ModelNotReadyException 429,
ServiceQuotaExceededException 400, ValidationException 400, AccessDeniedException 403,
ResourceNotFoundException 404, ModelTimeoutException 408, ModelErrorException 424,
ModelStreamErrorException 424, InternalServerException 500, ServiceUnavailableException 503. AWS's
authentication errors are 403 too: UnrecognizedClientException (an unknown key or token),
InvalidSignatureException (a wrong secret), ExpiredTokenException, IncompleteSignatureException,
MissingAuthenticationTokenException; a Bedrock API key that is not valid gets "Authentication
failed: Please make sure your API Key is valid.". Inside a stream an exception is named by its
union member (`throttlingException`), so types are compared without case.

Messages may name the caller's account and ARNs: those are logged for the operator and left out of
what clients see. "Input is too long." goes to clients exactly as Bedrock said it: Claude Code's
recovery (drop older images, then compact) matches that whole message.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from babelgate.providers import resets
from babelgate.providers.classify import Failure, Reason, classify

log = logging.getLogger("babelgate.upstream")
INPUT_TOO_LONG = "Input is too long."

REASONS: dict[str, Reason] = {
    "throttlingexception": Reason.RATE_LIMIT,
    "servicequotaexceededexception": Reason.QUOTA,
    "modelnotreadyexception": Reason.CAPACITY,
    "serviceunavailableexception": Reason.CAPACITY,
    "modeltimeoutexception": Reason.SERVER,
    "modelerrorexception": Reason.SERVER,
    "modelstreamerrorexception": Reason.SERVER,
    "internalserverexception": Reason.SERVER,
    "accessdeniedexception": Reason.PERMISSION,
    "unrecognizedclientexception": Reason.AUTH,
    "invalidsignatureexception": Reason.AUTH,
    "expiredtokenexception": Reason.AUTH,
    "incompletesignatureexception": Reason.AUTH,
    "missingauthenticationtokenexception": Reason.AUTH,
    "validationexception": Reason.BAD_REQUEST,
    "resourcenotfoundexception": Reason.MODEL_NOT_FOUND,
}
_NO_MODEL_ACCESS = re.compile(r"don't have access to the model|model identifier is invalid", re.I)
_BAD_API_KEY = re.compile(r"authentication failed|api key", re.I)
_TYPE_IN_TEXT = re.compile(r"\b([a-z][A-Za-z]*Exception)\b")
_ACCOUNT_DETAIL = re.compile(r"arn:aws[\w-]*:[^\s,;'\"]*|\b\d{12}\b")


def error_type(headers: Mapping[str, str], body: Any) -> str:
    """The error type from `x-amzn-ErrorType` (without its namespace) or the body's `__type`; "" when neither says."""
    value = next((v for k, v in headers.items() if k.lower() == "x-amzn-errortype"), "")
    if not value and isinstance(body, dict):
        value = str(body.get("__type") or "")
    return value.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def client_message(provider: str, status: int, kind: str, message: str) -> str:
    """What the client reads: Bedrock's message without account ids or ARNs ("Input is too long." as it is)."""
    if message == INPUT_TOO_LONG:
        return message
    shown = _ACCOUNT_DETAIL.sub("<redacted>", message)
    if shown != message:
        log.warning("%s: %s %s: %s", provider, status, kind or "error", message)
    return f"{provider} returned HTTP {status} {kind or 'error'}: {shown}"


def failure(status: int, headers: Mapping[str, str], body: Any, message: str, *, now: float | None = None) -> Failure:
    """Classify one Bedrock failure; its type comes from the headers, the body, or (stream errors) the message."""
    kind = error_type(headers, body) or _type_in(message)
    reason = REASONS.get(kind.lower())
    if reason is None and status == 403:
        reason = Reason.AUTH if _BAD_API_KEY.search(message) else Reason.PERMISSION
    if reason is None:
        return classify(status, headers, body, message, now=now)
    if reason in (Reason.PERMISSION, Reason.BAD_REQUEST) and _NO_MODEL_ACCESS.search(message):
        reason = Reason.MODEL_NOT_FOUND  # this model, not the whole credential
    if reason is Reason.PERMISSION and _BAD_API_KEY.search(message):
        reason = Reason.AUTH
    reset = resets.reset_after(headers, body, time.time() if now is None else now)
    account_wide = reason in (Reason.AUTH, Reason.PERMISSION)  # Bedrock's quotas are per model and region
    return Failure(reason, reset, account_wide, reason is not Reason.BAD_REQUEST, status)


def _type_in(message: str) -> str:
    found = _TYPE_IN_TEXT.search(message)
    return found.group(1) if found else ""
