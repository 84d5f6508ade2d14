"""Adobe IMS, emulated: ``POST /ims/token/v3`` (client credentials) and ``GET /ims/keys`` (JWKS).

Point an integration's IMS URL (``https://ims-na1.adobelogin.com``) at the control instance and
its token exchange runs unchanged. Both endpoints are anonymous, as IMS's are. The client's
credentials come in the form (as Adobe documents) or as HTTP Basic (OAuth libraries' default).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from control_instance.deps import StateDep, client_address
from control_instance.ims.errors import TokenRequestError
from control_instance.ims.schemas import TokenAnswer
from control_instance.ims.tokens import issue_token
from services.auth.ims import JWKS_PATH, TOKEN_PATH
from services.bodies import read_body

__all__ = ["router"]

router = APIRouter(tags=["adobe ims"])

_MAX_FORM_BYTES = 16 * 1024
_FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


async def _parameters(request: Request) -> dict[str, str]:
    parameters = dict(request.query_params)
    raw = await read_body(request, max_bytes=_MAX_FORM_BYTES)
    if raw.strip():
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in {_FORM, ""}:
            raise TokenRequestError(
                f"unsupported content type {content_type!r}",
                detail=f"send the parameters as {_FORM} (or in the query)",
            )
        try:
            pairs = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise TokenRequestError(
                "the body is not a valid form", detail=f"send the parameters as {_FORM}"
            ) from None
        parameters.update(pairs)
    basic = _basic_credentials(request.headers.get("authorization", ""))
    if basic is not None and not parameters.get("client_id"):
        # RFC 6749 §2.3.1: OAuth libraries send the client's credentials as HTTP Basic by default.
        parameters["client_id"], parameters["client_secret"] = basic
    return parameters


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TokenRequestError(
            "the Basic credentials are not valid base64",
            detail="send client_id and client_secret in the form, or as HTTP Basic",
        ) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise TokenRequestError("the Basic credentials have no ':' between id and secret")
    return unquote_plus(client_id), unquote_plus(secret)


@router.post(
    TOKEN_PATH,
    response_model=TokenAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "client_id", "client_secret", "scope"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                            "scope": {"type": "string", "examples": ["openid,AdobeID,session"]},
                        },
                    }
                }
            },
        }
    },
)
async def token(request: Request, state: StateDep) -> JSONResponse:
    """Exchange a technical account's client id and secret for an access token."""
    parameters = await _parameters(request)
    settings = state.settings
    answer = await run_in_threadpool(
        lambda: issue_token(
            db=state.db,
            keys=state.ims_keys,
            request=parameters,
            ttl_seconds=settings.ims_token_ttl_seconds,
            issuer=settings.resolved_public_url,
            throttle=state.throttle,
            address=client_address(request),
        )
    )
    return JSONResponse(answer.model_dump(), headers=_NO_STORE)


@router.get(JWKS_PATH)
async def keys(state: StateDep) -> dict[str, Any]:
    """Return the public keys that verify access tokens (a JSON Web Key Set)."""
    return await run_in_threadpool(state.ims_keys.jwks)
