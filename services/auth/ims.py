"""What the IMS emulator and the services that verify its tokens agree on.

The control instance signs access tokens (RS256 JWTs) and publishes its keys at ``/ims/keys``;
the execution instances verify them locally. A token carries Adobe IMS's claims (``type``,
``client_id``, ``user_id``, ``scope``, ``created_at`` and ``expires_in`` in milliseconds, as
strings) and, for local checks, the standard ``iat``/``exp`` and the technical account's product
profiles in ``product_profiles`` *(emulator choice: real IMS keeps profiles apart from the
token)*.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_SCOPES",
    "JWKS_PATH",
    "PROFILES_CLAIM",
    "TOKEN_PATH",
    "looks_like_jwt",
    "message_center_profile",
]

TOKEN_PATH = "/ims/token/v3"  # noqa: S105 - a path, not a secret
JWKS_PATH = "/ims/keys"
PROFILES_CLAIM = "product_profiles"

#: Scopes a technical account gets unless told otherwise *(emulator choice: the Developer
#: Console shows them per credential)*.
DEFAULT_SCOPES = (
    "openid",
    "AdobeID",
    "session",
    "read_organizations",
    "additional_info.projectedProductContext",
    "additional_info.roles",
)


def message_center_profile(instance: str) -> str:
    """Return the product profile that grants Message Center access on ``instance``."""
    return f"campaign - {instance} - messagecenter"


def looks_like_jwt(token: str) -> bool:
    """Return whether ``token`` has a JWT's shape (static technical tokens never do)."""
    return token.startswith("eyJ") and token.count(".") == 2
