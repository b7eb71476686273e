"""Helpers for the page tests: build support needs and providers through the services."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.test import Client

from support import services
from support.models import Competence, Provider, Service


@pytest.fixture
def client_for(world):
    """A test client logged in as one of the world's people: client_for(world.consultant)."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def add_need(world, **overrides):
    args = {
        "placement": world.placement, "recipient": "foster_household", "service": "supervision",
        "minutes_per_session": 120, "sessions_per_week": "0.5", "starts_on": dt.date(2026, 11, 1),
        "by": world.consultant,
    }
    args.update(overrides)
    return services.create_support_need(**args)


def add_provider(world, name, *, services_=("supervision",), competences=(), lat=56.15):
    provider = Provider.objects.create(
        name=name, latitude=lat, longitude=10.21, max_travel_km=40, capacity_minutes_per_week=600,
        max_cases=5, languages=["da"],
    )
    provider.services.set(Service.objects.filter(code__in=services_))
    provider.competences.set(Competence.objects.filter(code__in=competences))
    provider.municipalities.add(world.aarhus)
    return provider


def text_of(response) -> str:
    """The page's visible text with tags removed and white space collapsed, for phrase checks."""
    page = response.content.decode()
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
