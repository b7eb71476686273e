"""The consultant's session pages: proposals to confirm, a series with its history, changes,
absences and meetings. Danish by default; another municipality's series is not found."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import Meeting, OccurrenceStatus, SeriesChange, SeriesStatus, SessionSeries
from scheduler.services import sessions
from tests.sessions.helpers import NOW, assigned_need, available, local
from tests.web.conftest import text_of


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def weekly(world):
    """Provider Tue-Thu 09-15, foster family Tue-Thu 10-15, and an accepted assignment for them."""
    for day in ("tue", "wed", "thu"):
        available(world.provider, day, "09:00", "15:00")
        available(world.foster_home, day, "10:00", "15:00")
    return assigned_need(world)


def proposed(world, need):
    return sessions.propose_series(need=need, by=world.consultant, now=NOW, months=2)


def test_the_overview_lists_assignments_awaiting_a_series_in_danish(world, weekly, client_for):
    response = client_for(world.consultant).get(reverse("web:sessions"))
    assert response.status_code == 200
    text = text_of(response)
    assert "Godkendte opgaver uden forløb" in text
    assert world.child.display_name in text and "Foreslå et tidspunkt" in text
    assert '<main id="main"' in response.content.decode()


def test_proposing_shows_the_slot_and_confirming_makes_it_active(world, weekly, client_for):
    client = client_for(world.consultant)
    response = client.post(reverse("web:sessions-propose", args=[weekly.pk]), follow=True)
    assert response.status_code == 200
    series = SessionSeries.objects.get(need=weekly)
    assert series.status == SeriesStatus.PROPOSED
    text = text_of(response)
    assert "tirsdag kl. 10:00" in text.lower() or "Tirsdag kl. 10:00" in text
    overview = text_of(client.get(reverse("web:sessions")))
    assert "Forslag der venter på bekræftelse" in overview and "tirsdag kl. 10:00" in overview.lower()
    client.post(reverse("web:sessions-confirm", args=[series.pk]), {"next": "index"})
    series.refresh_from_db()
    assert series.status == SeriesStatus.ACTIVE


def test_declining_without_a_reason_shows_the_field_error(world, weekly, client_for):
    series = proposed(world, weekly)
    response = client_for(world.consultant).post(reverse("web:sessions-decline", args=[series.pk]), {"reason": ""})
    assert response.status_code == 400
    assert "Dette felt er påkrævet." in text_of(response)
    series.refresh_from_db()
    assert series.status == SeriesStatus.PROPOSED


def test_the_series_page_shows_occurrences_and_who_changed_what_and_why(world, weekly, client_for):
    series = sessions.confirm_series(series=proposed(world, weekly), by=world.consultant, now=NOW)
    occurrence = series.occurrences.booked().order_by("start").first()
    client = client_for(world.consultant)
    response = client.post(
        reverse("web:sessions-occurrence-cancel", args=[series.pk, occurrence.pk]),
        {f"o{occurrence.pk}c-reason": "Familien er syg"}, follow=True,
    )
    assert response.status_code == 200
    occurrence.refresh_from_db()
    assert occurrence.status == OccurrenceStatus.CANCELLED
    text = text_of(response)
    assert "Historik" in text and "Familien er syg" in text and "Forekomst aflyst" in text
    assert "konsulent" in text  # who


def test_moving_onto_a_closed_day_shows_the_services_message_not_a_500(world, weekly, client_for):
    series = sessions.confirm_series(series=proposed(world, weekly), by=world.consultant, now=NOW)
    occurrence = series.occurrences.booked().order_by("start").first()
    response = client_for(world.consultant).post(
        reverse("web:sessions-occurrence-move", args=[series.pk, occurrence.pk]),
        {f"o{occurrence.pk}m-new_start": "2026-12-24T10:00", f"o{occurrence.pk}m-reason": "Jul"}, follow=True,
    )
    assert response.status_code == 200
    assert "24.12.2026" in text_of(response)  # the service's message, shown as a notice
    occurrence.refresh_from_db()
    assert occurrence.status == OccurrenceStatus.SCHEDULED


def test_changing_from_a_date_needs_a_change_and_then_continues_in_a_new_series(world, weekly, client_for):
    series = sessions.confirm_series(series=proposed(world, weekly), by=world.consultant, now=NOW)
    client = client_for(world.consultant)
    url = reverse("web:sessions-change", args=[series.pk])
    refused = client.post(url, {"from_date": "2026-12-01", "reason": "Skoleskift"})
    assert refused.status_code == 400
    assert "Sig hvad der ændres" in text_of(refused)
    response = client.post(url, {"from_date": "2026-12-01", "weekdays": ["2"], "reason": "Skoleskift"})
    new = SessionSeries.objects.get(previous=series)
    assert response.status_code == 302 and response["Location"] == reverse("web:sessions-series", args=[new.pk])
    assert new.weekdays == [2]
    end = client.post(reverse("web:sessions-end", args=[new.pk]), {"last_date": "2026-12-20", "reason": "Slut"})
    assert end.status_code == 302
    new.refresh_from_db()
    assert new.status == SeriesStatus.ENDED
    assert new.changes.filter(action=SeriesChange.Action.ENDED, reason="Slut").exists()


def test_an_absence_shows_the_affected_sessions_and_their_proposed_replacements(world, weekly, client_for):
    series = sessions.confirm_series(series=proposed(world, weekly), by=world.consultant, now=NOW)
    client = client_for(world.consultant)
    response = client.post(reverse("web:sessions-absence"), {
        "provider": world.provider.pk, "starts_at": "2026-11-16T00:00", "ends_at": "2026-11-21T00:00",
        "reason": "illness",
    })
    assert response.status_code == 200
    text = text_of(response)
    assert "Berørte aftaler" in text and "Foreslået i stedet" in text
    flagged = series.occurrences.get(needs_attention=True)
    assert flagged.start == local(2026, 11, 17, 10)
    accepted = client.post(reverse("web:sessions-occurrence-accept", args=[series.pk, flagged.pk]), {"next": "index"})
    assert accepted.status_code == 302
    flagged.refresh_from_db()
    assert flagged.status == OccurrenceStatus.MOVED and flagged.start == local(2026, 11, 25, 10)


def test_an_absence_form_shows_field_errors(world, client_for):
    response = client_for(world.consultant).post(reverse("web:sessions-absence"), {
        "provider": world.provider.pk, "starts_at": "2026-11-16T00:00", "ends_at": "2026-11-15T00:00",
        "reason": "illness",
    })
    assert response.status_code == 400
    assert "Fraværet skal slutte efter det begynder." in text_of(response)


def test_meeting_search_offers_the_earliest_time_and_books_it(world, weekly, client_for):
    available(world.birth_home, "wed", "10:00", "15:00")
    client = client_for(world.consultant)
    search = {
        "placement": world.placement.pk, "kind": "follow_up", "window_start": "2026-11-04T08:00",
        "window_end": "2026-11-06T16:00", "duration_minutes": "60",
    }
    response = client.post(reverse("web:sessions-meetings"), search)
    assert response.status_code == 200
    text = text_of(response)
    assert "Det tidligste tidspunkt for alle" in text and "Book dette tidspunkt" in text
    booked = client.post(reverse("web:sessions-meetings"), {**search, "start": "2026-11-04T10:00:00+01:00"})
    assert booked.status_code == 302
    meeting = Meeting.objects.get(placement=world.placement)
    assert meeting.start == local(2026, 11, 4, 10)


def test_another_municipalitys_series_is_not_found(world, client_for):
    available(world.odense_foster_home, "tue", "10:00", "15:00")
    from support import services
    from tests.api.sessions_world import assign
    from tests.sessions.helpers import add_provider

    provider = add_provider(world, "Odense-supervisor (fiktiv)", lat=55.40, lon=10.38)
    provider.municipalities.set([world.odense])
    need = assign(services.create_support_need(
        placement=world.odense_placement, recipient="foster_household", service="supervision",
        minutes_per_session=60, sessions_per_week="1", starts_on=dt.date(2026, 11, 2), by=world.other_consultant,
    ), provider)
    series = sessions.propose_series(need=need, by=world.other_consultant, now=NOW, months=1)
    client = client_for(world.consultant)
    assert client.get(reverse("web:sessions-series", args=[series.pk])).status_code == 404
    assert client.post(reverse("web:sessions-confirm", args=[series.pk])).status_code == 404
    series.refresh_from_db()
    assert series.status == SeriesStatus.PROPOSED
    assert client_for(world.other_consultant).get(reverse("web:sessions-series", args=[series.pk])).status_code == 200


def test_team_leads_read_but_cannot_change(world, weekly, client_for):
    series = proposed(world, weekly)
    client = client_for(world.team_lead)
    page = client.get(reverse("web:sessions-series", args=[series.pk]))
    assert page.status_code == 200 and "Bekræft" not in text_of(page)
    assert client.post(reverse("web:sessions-confirm", args=[series.pk])).status_code == 403
    series.refresh_from_db()
    assert series.status == SeriesStatus.PROPOSED


@pytest.mark.parametrize("role", ["foster_parent", "provider_user", "outsider"])
def test_the_pages_are_for_staff_only(world, client_for, role):
    assert client_for(getattr(world, role)).get(reverse("web:sessions")).status_code == 404


def test_the_workspace_links_to_the_session_pages(world, client_for):
    page = client_for(world.consultant).get(reverse("web:workspace"))
    assert reverse("web:sessions") in page.content.decode()


def test_a_move_typed_in_the_summer_time_week_keeps_the_wall_clock(world, weekly, client_for):
    """The form's local time is Copenhagen time: 10:00 on 30 March 2027 is 08:00 UTC (summer time)."""
    series = sessions.confirm_series(series=sessions.propose_series(need=weekly, by=world.consultant, now=NOW),
                                     by=world.consultant, now=NOW)
    occurrence = series.occurrences.booked().filter(start__gt=local(2027, 3, 20)).order_by("start").first()
    response = client_for(world.consultant).post(
        reverse("web:sessions-occurrence-move", args=[series.pk, occurrence.pk]),
        {f"o{occurrence.pk}m-new_start": "2027-03-31T10:00", f"o{occurrence.pk}m-reason": "Sommertid"},
    )
    assert response.status_code == 302
    occurrence.refresh_from_db()
    assert occurrence.start == local(2027, 3, 31, 10) and occurrence.start.astimezone(dt.UTC).hour == 8
