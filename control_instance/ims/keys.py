"""The RS256 keys that sign IMS access tokens, kept in the database, published as a JWKS.

The private key is sealed by the control instance's :class:`~control_instance.secrets.SecretBox`
(its key is not in the database), so tokens issued before a restart stay valid after it. A
rotation makes a new key that signs from then on; every older key stays in the JWKS until an
admin retires it, so that a rotation never breaks a token still in flight.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from control_instance.secrets import SecretBox
from control_instance.tables import ImsSigningKey
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound

__all__ = ["ALGORITHM", "KEY_PURPOSE", "SigningKey", "SigningKeys"]

ALGORITHM = "RS256"
KEY_PURPOSE = "ims-signing-key"


@dataclass(frozen=True)
class SigningKey:
    """A signing key as the admin API shows it (its public half only)."""

    kid: str
    created_at: datetime
    signing: bool


class SigningKeys:
    """Sign access tokens with the newest key; publish every key's public half."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box
        self._lock = threading.Lock()
        self._current: tuple[str, rsa.RSAPrivateKey] | None = None

    def sign(self, claims: dict[str, Any]) -> str:
        """Return ``claims`` as a signed JWT whose header names its key, as IMS tokens do."""
        kid, key = self._signing_key()
        headers = {"kid": kid, "x5u": f"{kid}.cer", "itt": "at"}
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers=headers)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Return the public keys as a JSON Web Key Set (creating the first key if need be)."""
        self._signing_key()
        with self.db.transaction() as session:
            rows = session.scalars(select(ImsSigningKey).order_by(ImsSigningKey.created_at)).all()
            return {"keys": [json.loads(row.public_jwk) for row in rows]}

    def list_keys(self) -> list[SigningKey]:
        """Return every published key, newest first, marking the one that signs."""
        current, _ = self._signing_key()
        with self.db.transaction() as session:
            rows = session.scalars(
                select(ImsSigningKey).order_by(ImsSigningKey.created_at.desc())
            ).all()
            return [SigningKey(row.kid, row.created_at, row.kid == current) for row in rows]

    def rotate(self) -> SigningKey:
        """Make a new key that signs from now on; the older ones stay published."""
        with self._lock:
            self._current = self._create()
            kid = self._current[0]
        return next(key for key in self.list_keys() if key.kid == kid)

    def retire(self, kid: str) -> None:
        """Stop publishing an older key: the tokens it signed are refused from then on."""
        current, _ = self._signing_key()
        if kid == current:
            raise Conflict(
                f"{kid} is the key that signs new tokens",
                detail="rotate first (POST /api/v1/ims/signing-keys), then retire the old key",
            )
        with self.db.transaction(write=True) as session:
            row = session.get(ImsSigningKey, kid)
            if row is None:
                raise NotFound(f"no signing key {kid}")
            session.delete(row)

    def _signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        with self._lock:
            if self._current is None:
                self._current = self._load() or self._create()
            return self._current

    def _load(self) -> tuple[str, rsa.RSAPrivateKey] | None:
        with self.db.transaction() as session:
            statement = select(ImsSigningKey).order_by(ImsSigningKey.created_at.desc()).limit(1)
            row = session.scalars(statement).first()
            if row is None:
                return None
            pem = self.box.open(row.private_key, purpose=KEY_PURPOSE)
            kid = row.kid
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return kid, key

    def _create(self) -> tuple[str, rsa.RSAPrivateKey]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = f"mcsim_ims-key-{secrets.token_hex(4)}"
        public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        public.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with self.db.transaction(write=True) as session:
            session.add(
                ImsSigningKey(
                    kid=kid,
                    private_key=self.box.seal(pem, purpose=KEY_PURPOSE),
                    public_jwk=json.dumps(public, sort_keys=True),
                    created_at=utc_now(),
                )
            )
        return kid, key
