"""Secrets the control instance must use again, encrypted at rest (AES-256-GCM).

The password of an execution-instance account is sent on every ``/_mc/`` call, and the passwords
of cell operators and the technical tokens are pushed again by "sync": none can be a one-way
hash. They are stored encrypted with a key that is not in the database: the ``secret_key``
setting (stretched with SHA-256), or else a random key kept in ``DATA_DIR/control-secret.key``
(mode 0600), created on first start. The purpose of each secret is bound to its ciphertext as
associated data, so a ciphertext copied into another column does not decrypt. The API never
returns a stored secret.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.errors import McsimError

__all__ = ["KEY_FILE", "SecretBox", "SecretError", "load_key"]

KEY_FILE = "control-secret.key"
_PREFIX = "v1:"
_NONCE = 12


class SecretError(McsimError):
    """A stored secret cannot be decrypted (another key, or a damaged value)."""

    status_code = 500
    error = "secret_unreadable"


def load_key(*, secret_key: str | None, data_dir: Path) -> bytes:
    """Return the 256-bit key: from the setting, else from (or into) the data directory's file."""
    if secret_key:
        return hashlib.sha256(secret_key.encode()).digest()
    path = data_dir / KEY_FILE
    if path.exists():
        raw = base64.b64decode(path.read_text().strip())
        if len(raw) != 32:
            raise SecretError(f"{path} does not hold a 256-bit key")
        return raw
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


class SecretBox:
    """Encrypt and decrypt short secrets, each bound to its purpose."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, value: str, *, purpose: str) -> str:
        """Return ``value`` encrypted for storage."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, value.encode(), purpose.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, *, purpose: str) -> str:
        """Return the secret of a stored value; raise SecretError when it cannot be read."""
        if not stored.startswith(_PREFIX):
            raise SecretError("a stored secret has an unknown format")
        raw = base64.b64decode(stored[len(_PREFIX) :])
        try:
            value = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode())
        except InvalidTag:
            raise SecretError(
                "a stored secret cannot be decrypted",
                detail="the secret key changed (MCSIM_CONTROL_SECRET_KEY or "
                f"{KEY_FILE}): enter the password again",
            ) from None
        return value.decode()
