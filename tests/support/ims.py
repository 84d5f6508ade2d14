"""Talk to the IMS emulator as an integration and as an admin do."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

TOKEN = "/ims/token/v3"
SCOPE = "openid,AdobeID,session"


async def admin_headers(control: httpx.AsyncClient) -> dict[str, str]:
    """Log in as the development admin."""
    answer = await control.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def create_account(control: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """Create a technical account through the API; return the answer (with its secret)."""
    answer = await control.post(
        "/api/v1/technical-accounts",
        json={"name": "Shop", **body},
        headers=await admin_headers(control),
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def exchange(
    control: httpx.AsyncClient, client_id: str, secret: str, scope: str = SCOPE
) -> httpx.Response:
    """Ask for a token as an integration does (form-encoded body)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": scope,
    }
    return await control.post(TOKEN, data=form)


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify a token with the published keys, as a resource server would."""
    keys = jwt.PyJWKSet.from_dict(jwks)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["RS256"])
    return claims
