"""Two independent parsers expand the feed, and every occurrence must equal the database's, across DST.

* Python: ``icalendar`` + ``recurring-ical-events``;
* JavaScript: ``ical.js``, the parser inside Thunderbird, run with node (``npm ci`` installs it).

The feed holds a weekly 10:00 session series (a year from Monday 2 November 2026, so across
Sunday 28 March 2027, 02:00 -> 03:00, and Sunday 31 October 2027, 03:00 -> 02:00) with one
occurrence moved across the spring change and one cancelled, and a weekly respite weekend
(Friday 16:00 - Sunday 18:00) whose blocks on both DST weekends are 49 and 51 hours long.
"""

from __future__ import annotations

import datetime as dt

import pytest
import recurring_ical_events
from icalendar import Calendar

from calendars.services import feeds as feed_services
from scheduler.models import BOOKED_STATUSES, OccurrenceStatus, SessionOccurrence
from scheduler.services import sessions
from support.models import HouseholdKind
from tests.conftest import make_household
from tests.sessions.helpers import CPH, NOW, add_provider, assigned_need, local

UTC = dt.UTC


@pytest.fixture
def dst_year(tuesdays, active_series):
    world = tuesdays
    home = make_household(world.aarhus, "Aflastningsfamilien (fiktiv)", kind=HouseholdKind.RESPITE,
                          foster_type="almen", approved_places=2, latitude=56.20, longitude=10.10)
    provider = add_provider(world, "Aflastningsfamilien (fiktiv)", service="respite", lat=56.20, lon=10.10,
                            household=home)
    need = assigned_need(world, provider=provider, service="respite", minutes=60 * 50, per_week="1")
    respite = sessions.confirm_series(series=sessions.propose_series(need=need, by=world.consultant, now=NOW),
                                      by=world.consultant, now=NOW)
    rows = {o.start.astimezone(CPH).date(): o for o in active_series.occurrences.filter(status=OccurrenceStatus.SCHEDULED)}
    # Moved from the Tuesday before the spring change to the Wednesday after it; one cancelled before the autumn change.
    sessions.move_occurrence(occurrence=rows[dt.date(2027, 3, 23)], new_start=local(2027, 3, 31, 13),
                             reason="flyttet", by=world.consultant, now=NOW)
    sessions.cancel_occurrence(occurrence=rows[dt.date(2027, 10, 26)], reason="aflyst", by=world.consultant, now=NOW)
    return world, [active_series, respite]


def database(series_list, start, end) -> set[tuple]:
    rows = SessionOccurrence.objects.filter(series__in=series_list, status__in=BOOKED_STATUSES, start__gte=start,
                                            start__lt=end).select_related("series")
    return {(r.series.uid, r.start.astimezone(UTC), r.end.astimezone(UTC)) for r in rows}


def window(series_list):
    end = min(s.materialised_until for s in series_list)
    return NOW, end


def feed_body(client, world) -> bytes:
    issued = feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW)
    response = client.get(f"/cal/{issued.token}.ics")
    assert response.status_code == 200
    return response.content


def test_recurring_ical_events_expands_exactly_the_booked_occurrences(dst_year, client, frozen):
    world, series_list = dst_year
    start, end = window(series_list)
    expected = database(series_list, start, end)
    assert len(expected) > 100
    cal = Calendar.from_ical(feed_body(client, world))
    found = set()
    for event in recurring_ical_events.of(cal).between(start, end):
        if event.get("STATUS") == "CANCELLED" or event["DTSTART"].dt < start:
            continue
        found.add((str(event["UID"]), event["DTSTART"].dt.astimezone(UTC), event["DTEND"].dt.astimezone(UTC)))
    assert found == expected
    spring = [f for f in found if f[1].date() == dt.date(2027, 3, 26)]
    assert [(e - s) for _u, s, e in spring] == [dt.timedelta(hours=49)]


def test_icaljs_expands_exactly_the_booked_occurrences(dst_year, client, frozen, icaljs):
    world, series_list = dst_year
    start, end = window(series_list)
    expected = database(series_list, start, end)
    items = icaljs(feed_body(client, world), start, end)
    found = set()
    for item in items:
        begins = dt.datetime.fromisoformat(item["start"].replace("Z", "+00:00"))
        if item["status"] == "CANCELLED" or begins < start:
            continue
        found.add((item["uid"], begins, dt.datetime.fromisoformat(item["end"].replace("Z", "+00:00"))))
    assert found == expected
    autumn = [f for f in found if f[1].astimezone(CPH).date() == dt.date(2027, 10, 29)]
    assert [(e - s) for _u, s, e in autumn] == [dt.timedelta(hours=51)]
    # The cancelled occurrence is still there, marked cancelled, for clients that show it struck through.
    cancelled = [i for i in items if i["status"] == "CANCELLED"]
    assert [c["recurrenceId"] for c in cancelled] == ["2027-10-26T08:00:00.000Z"]
