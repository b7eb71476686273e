"""What the chaos tests make the real service do, run in its own process against the chaos stack.

    python -m tests.chaos.scenario seed --tag t1 --series 12 [--caldav-url URL --caldav-user U --caldav-password P]
    python -m tests.chaos.scenario queue-due

``seed`` builds a small fictional municipality (a consultant, a provider with a connected
CalDAV calendar, N foster families) and confirms one weekly session series per family through
the scheduler's own services, so every series writes its outbox rows (an invitation to the
provider and to the family, and a CalDAV push) in the transaction that confirms it and queues
their delivery tasks on commit, exactly as in production. It prints JSON: the municipality id,
the provider's feed token, an API token and how long each confirming transaction took.

``queue-due`` queues ``calendars.tasks.deliver_due`` once: what the every-minute schedule does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.chaos.settings")
    import django

    django.setup()


def seed(*, tag: str, series: int, caldav_url: str, caldav_user: str, caldav_password: str) -> dict:
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from calendars.services import caldav as caldav_services
    from calendars.services import feeds as feed_services
    from support.models import (
        Membership,
        Municipality,
        Placement,
        Provider,
        Service,
        WeeklyAvailability,
    )
    from support.roles import Role

    def make_user(username: str):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.create_user(username=username, password=f"pw-{username}-123")

    now = timezone.now()
    taken = set(Municipality.objects.values_list("code", flat=True))
    code = next(str(c) for c in range(100, 1000) if str(c) not in taken)
    municipality = Municipality.objects.create(code=code, name=f"Chaos {tag}")
    consultant = make_user(f"{tag}-konsulent")
    Membership.objects.create(user=consultant, role=Role.CONSULTANT, municipality=municipality)
    provider = Provider.objects.create(
        name=f"Supervisor {tag} (fiktiv)", email=f"provider@{tag}.test", latitude=56.15, longitude=10.21,
        max_travel_km=40, capacity_minutes_per_week=60 * 60, max_cases=series + 5, languages=["da"],
    )
    provider.services.add(Service.objects.get(code="supervision"))
    provider.municipalities.add(municipality)
    provider_user = make_user(f"{tag}-supervisor")
    Membership.objects.create(user=provider_user, role=Role.PROVIDER, provider=provider)
    for day in ("mon", "tue", "wed", "thu", "fri"):
        WeeklyAvailability.objects.create(provider=provider, day=day, start_minute=8 * 60, end_minute=18 * 60)
    if caldav_url:
        caldav_services.connect_caldav(provider=provider, url=caldav_url, username=caldav_user,
                                       password=caldav_password, by=provider_user, now=now)
    feed_token = feed_services.issue_feed(subject=provider, by=provider_user, now=now).token
    api_token = Token.objects.get_or_create(user=provider_user)[0].key

    confirm_seconds = add_series(municipality=municipality, provider=provider, consultant=consultant,
                                 count=series, now=now)
    family = {}
    placement = Placement.objects.filter(municipality=municipality).order_by("pk").first()
    if placement is not None:  # a foster parent of the first family, for the check-in API
        parent = make_user(f"{tag}-plejeforaelder")
        Membership.objects.create(user=parent, role=Role.FOSTER_PARENT, household=placement.foster_household)
        family = {"family_token": Token.objects.create(user=parent).key, "family_placement": placement.pk}
    return {"municipality": municipality.pk, "provider": provider.pk, "feed_token": feed_token,
            "api_token": api_token, "confirm_seconds": confirm_seconds, **family}


def add_series(*, municipality, provider, consultant, count: int, now: dt.datetime) -> list[float]:
    """``count`` more foster families, each with a confirmed weekly series with ``provider``."""
    from django.db import transaction

    from scheduler.services import sessions
    from support import services
    from support.models import (
        Child,
        FosterType,
        Household,
        HouseholdKind,
        NeedStatus,
        Placement,
        SupportNeed,
        WeeklyAvailability,
    )

    tag = municipality.name.removeprefix("Chaos ")
    first = Household.objects.filter(municipality=municipality).count()
    confirm_seconds = []
    for i in range(first, first + count):
        home = Household.objects.create(
            municipality=municipality, name=f"Familien {tag}-{i} (fiktiv)", kind=HouseholdKind.FOSTER,
            foster_type=FosterType.ALMEN, approved_places=2, latitude=56.16, longitude=10.20, languages=["da"],
            email=f"family-{i}@{tag}.test",
        )
        for day in ("mon", "tue", "wed", "thu", "fri"):
            WeeklyAvailability.objects.create(household=home, day=day, start_minute=8 * 60, end_minute=18 * 60)
        child = Child.objects.create(municipality=municipality, display_name=f"Barn {tag}-{i}",
                                     birth_date=dt.date(2015, 1, 1))
        placement = Placement.objects.create(municipality=municipality, child=child, foster_household=home,
                                             consultant=consultant, starts_on=dt.date(2026, 1, 1))
        need = services.create_support_need(
            placement=placement, recipient="foster_household", service="supervision", minutes_per_session=60,
            sessions_per_week="1", starts_on=now.date(), by=consultant,
        )
        SupportNeed.objects.filter(pk=need.pk).update(status=NeedStatus.ASSIGNED, current_provider=provider)
        need.refresh_from_db()
        proposed = sessions.propose_series(need=need, by=consultant, now=now, months=2)
        started = time.perf_counter()
        with transaction.atomic():  # what the consultant's confirm request runs
            sessions.confirm_series(series=proposed, by=consultant, now=now)
        confirm_seconds.append(time.perf_counter() - started)
    return confirm_seconds


def more(*, municipality: int, provider: int, series: int) -> dict:
    from django.utils import timezone

    from support.models import Membership, Municipality, Provider
    from support.roles import Role

    municipality = Municipality.objects.get(pk=municipality)
    consultant = Membership.objects.get(municipality=municipality, role=Role.CONSULTANT).user
    seconds = add_series(municipality=municipality, provider=Provider.objects.get(pk=provider),
                         consultant=consultant, count=series, now=timezone.now())
    return {"confirm_seconds": seconds}


def queue_due() -> str:
    from django_q.tasks import async_task

    return async_task("calendars.tasks.deliver_due", task_name=f"chaos-deliver-due-{time.time_ns()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--tag", required=True)
    s.add_argument("--series", type=int, default=10)
    s.add_argument("--caldav-url", default="")
    s.add_argument("--caldav-user", default="")
    s.add_argument("--caldav-password", default="")
    m = sub.add_parser("more")
    m.add_argument("--municipality", type=int, required=True)
    m.add_argument("--provider", type=int, required=True)
    m.add_argument("--series", type=int, default=4)
    sub.add_parser("queue-due")
    args = parser.parse_args(argv)
    _setup()
    if args.command == "seed":
        result = seed(tag=args.tag, series=args.series, caldav_url=args.caldav_url, caldav_user=args.caldav_user,
                      caldav_password=args.caldav_password)
    elif args.command == "more":
        result = more(municipality=args.municipality, provider=args.provider, series=args.series)
    else:
        result = {"task": queue_due()}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
