"""Secrets at rest (calendars.crypto, MultiFernet over FIELD_ENCRYPTION_KEYS) and rotating their key.

The rotation in docs/security.md: put a new key first, deploy, re-encrypt everything, drop the old key.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

crypto = pytest.importorskip("calendars.crypto", reason="calendars.crypto (the one encryption module) is not here yet")

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRET = "caldav-app-password-1234"


def test_stored_value_is_not_the_secret(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = crypto.encrypt(SECRET)
    assert SECRET not in token and token.startswith("gAAAAA")
    assert crypto.decrypt(token) == SECRET


def test_rotation_new_key_first_reencrypt_then_drop_the_old_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    stored = crypto.encrypt(SECRET)

    # Step 1: the new key goes first; old values still open, new values use the new key.
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert crypto.decrypt(stored) == SECRET
    assert Fernet(NEW.encode()).decrypt(crypto.encrypt("x").encode()) == b"x"

    # Step 2: re-encrypt what is stored.
    rotated = crypto.reencrypt(stored)
    assert rotated != stored
    assert Fernet(NEW.encode()).decrypt(rotated.encode()).decode() == SECRET

    # Step 3: the old key goes; re-encrypted values open, anything missed fails loudly.
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert crypto.decrypt(rotated) == SECRET
    with pytest.raises(crypto.UndecryptableSecret):
        crypto.decrypt(stored)


def test_a_malformed_key_names_the_variable(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        crypto.encrypt(SECRET)


def test_a_deployment_without_keys_refuses_to_encrypt(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.DEBUG = False
    settings.TESTING = False
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        crypto.encrypt(SECRET)


def test_reencrypt_command_rewrites_stored_caldav_passwords(settings, world):
    from django.apps import apps
    from django.core.management import call_command, get_commands

    if not apps.is_installed("calendars") or "reencrypt_secrets" not in get_commands():
        pytest.skip("the calendars app and its reencrypt_secrets command are not installed yet")
    from django.utils import timezone

    from calendars.models import CalDavConnection

    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    connection = CalDavConnection(
        provider=world.provider, url="https://dav.example.org/cal/", username="mette",
        created_at=timezone.now(), updated_at=timezone.now(),
    )
    connection.set_password(SECRET)
    connection.save()
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("reencrypt_secrets")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    connection.refresh_from_db()
    assert connection.password() == SECRET
