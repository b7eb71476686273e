"""Encryption at rest for secrets we must be able to read back (CalDAV app passwords).

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (env ``FIELD_ENCRYPTION_KEYS``, comma-separated
Fernet keys). The first key encrypts; every key decrypts (``MultiFernet``). Rotating a key:

1. put a new key first (``FIELD_ENCRYPTION_KEYS=new,old``) and deploy;
2. ``python manage.py reencrypt_secrets`` rewrites every stored secret under the new key;
3. remove the old key.

Without the setting, development and tests derive one key from ``SECRET_KEY``; a deployment
(DEBUG off, not testing) must set it, and ``keys()`` says so loudly.
Make a key with ``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def dev_key(secret_key: str) -> str:
    """The development key derived from SECRET_KEY (never used when FIELD_ENCRYPTION_KEYS is set)."""
    digest = hashlib.sha256(b"plejenet-field-encryption:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> list[str]:
    keys = list(getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or [])
    if keys:
        return keys
    if settings.DEBUG or getattr(settings, "TESTING", False):
        return [dev_key(settings.SECRET_KEY)]
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: required when DEBUG is off (comma-separated Fernet keys)")


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS: each key must be 32 url-safe base64-encoded bytes (Fernet.generate_key())"
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(configured_keys()))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


class UndecryptableSecret(Exception):
    """No configured key opens the stored value (a key was removed before re-encrypting)."""


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret("no configured FIELD_ENCRYPTION_KEYS key decrypts this value") from None


def reencrypt(token: str) -> str:
    """The same secret under the first (newest) key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret("no configured FIELD_ENCRYPTION_KEYS key decrypts this value") from None
