"""Security tests: the real two-factor flow, so sign-ins here are *not* pre-verified.

tests/conftest.py verifies every test sign-in (so page and API suites need no codes); this
fixture of the same name replaces it for tests/security, keeping only what django-axes needs.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from tests.security.otp import confirmed_device_for, patch_test_clients


@pytest.fixture(autouse=True)
def _staff_sessions_pass_two_factor(monkeypatch):
    patch_test_clients(monkeypatch, verify=False)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # DRF's throttle counts live in the cache, keyed by IP; the lockout tests make many attempts.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def verified_client_for(world):
    """A client signed in as `user` whose session has passed two-factor sign-in, as after a right code."""
    from django_otp import DEVICE_ID_SESSION_KEY

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = confirmed_device_for(user).persistent_id
        session.save()
        return client

    return make
