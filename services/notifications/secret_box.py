"""Webhook secrets encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from `WEBHOOK_SECRET_KEY`: comma-separated passphrases or Fernet keys, the first
encrypting, every one decrypting, so the key can be rotated by putting a new one first and
re-saving. A database dump without the key yields no secret that signs webhooks.
`DEV_ONLY_INSECURE_KEY` is the local-development default and is public: a deployment sets its own.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

DEV_ONLY_INSECURE_KEY = "dev-only-insecure-webhook-secret-key"


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except ValueError:  # a passphrase: stretch it to a Fernet key
        digest = hashlib.sha256(b"work-brokerage webhook secrets\x00" + key.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


class SecretBox:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("WEBHOOK_SECRET_KEY is empty")
        self._fernet = MultiFernet([_fernet(k) for k in parts])
        self.is_dev_default = parts[0] == DEV_ONLY_INSECURE_KEY

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                "a webhook secret cannot be decrypted with WEBHOOK_SECRET_KEY"
            ) from exc
