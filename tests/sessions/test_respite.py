"""Respite weekends (støtteophold) at a respite household, within its approved places."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from scheduler.models import Booking, OccurrenceStatus, SeriesKind
from scheduler.services import sessions
from support.errors import DomainError
from support.models import HouseholdKind
from tests.conftest import make_household
from tests.sessions.helpers import CPH, NOW, add_placement, add_provider, assigned_need, local


@pytest.fixture
def host(world):
    """A respite family with two approved places, and its provider record."""
    home = make_household(world.aarhus, "Aflastningsfamilien (fiktiv)", kind=HouseholdKind.RESPITE,
                          foster_type="almen", approved_places=2, latitude=56.20, longitude=10.10)
    provider = add_provider(world, "Aflastningsfamilien (fiktiv)", service="respite", lat=56.20, lon=10.10,
                            household=home)
    return home, provider


def respite_need(world, provider, *, placement=None, per_week="0.25"):
    return assigned_need(world, provider=provider, placement=placement, service="respite", minutes=60 * 50,
                         per_week=per_week)


def blocks(series):
    return list(series.occurrences.filter(status__in=["scheduled", "moved"]).order_by("start"))


def test_default_block_is_friday_four_to_sunday_six_every_n_weeks(world, host):
    home, provider = host
    series = sessions.propose_series(need=respite_need(world, provider), by=world.consultant, now=NOW)
    assert series.kind == SeriesKind.RESPITE and series.host_household == home
    assert series.rrule == "FREQ=WEEKLY;INTERVAL=4;BYDAY=FR"
    found = blocks(series)
    assert len(found) == 13
    assert found[0].start == local(2026, 11, 6, 16) and found[0].end == local(2026, 11, 8, 18)
    assert {(b.start.astimezone(CPH).strftime("%a %H:%M"), b.end.astimezone(CPH).strftime("%a %H:%M"))
            for b in found} == {("Fri 16:00", "Sun 18:00")}
    parties = set(Booking.objects.filter(occurrence__series=series).values_list("party__key", flat=True))
    assert parties == {f"child:{world.child.pk}", f"place:{home.pk}:1"}


def test_a_block_over_a_dst_weekend_still_ends_sunday_at_six(world, host):
    _home, provider = host
    series = sessions.propose_series(need=respite_need(world, provider, per_week="1"), by=world.consultant, now=NOW)
    by_friday = {b.start.astimezone(CPH).date(): b for b in blocks(series)}
    spring, autumn = by_friday[dt.date(2027, 3, 26)], by_friday[dt.date(2027, 10, 29)]
    assert spring.end == local(2027, 3, 28, 18) and spring.end - spring.start == dt.timedelta(hours=49)
    assert autumn.end == local(2027, 10, 31, 18) and autumn.end - autumn.start == dt.timedelta(hours=51)
    # Holidays do not stop respite: Christmas weekend is when it is used.
    assert dt.date(2026, 12, 25) in by_friday


def test_a_household_never_takes_more_children_than_its_places(world, host):
    home, provider = host
    placements = [world.placement] + [add_placement(world, f"Søskende {i}") for i in range(2)]
    two = [
        sessions.propose_series(need=respite_need(world, provider, placement=p, per_week="0.5"),
                                by=world.consultant, now=NOW)
        for p in placements[:2]
    ]
    third = sessions.propose_series(need=respite_need(world, provider, placement=placements[2], per_week="0.5"),
                                    by=world.consultant, now=NOW)
    assert blocks(two[0])[0].start == blocks(two[1])[0].start == local(2026, 11, 6, 16)
    assert {blocks(two[0])[0].place, blocks(two[1])[0].place} == {1, 2}
    # Both places are taken every other weekend, so the third child comes the weekends between.
    assert blocks(third)[0].start == local(2026, 11, 13, 16)
    per_weekend = Counter(
        b.start for b in Booking.objects.filter(party__key__startswith=f"place:{home.pk}:", active=True)
    )
    assert max(per_weekend.values()) == 2


def test_a_full_household_says_so(world, host):
    _home, provider = host
    placements = [world.placement] + [add_placement(world, f"Barn {i}") for i in range(2)]
    for p in placements[:2]:
        sessions.propose_series(need=respite_need(world, provider, placement=p, per_week="1"),
                                by=world.consultant, now=NOW)
    with pytest.raises(DomainError) as err:
        sessions.propose_series(need=respite_need(world, provider, placement=placements[2], per_week="1"),
                                by=world.consultant, now=NOW)
    assert err.value.code == "no_free_weekend" and "full" in err.value.message


def test_a_respite_provider_needs_a_household(world):
    provider = add_provider(world, "Uden hjem (fiktiv)", service="respite")
    with pytest.raises(DomainError) as err:
        sessions.propose_series(need=respite_need(world, provider), by=world.consultant, now=NOW)
    assert err.value.code == "no_respite_household"


def test_an_absent_respite_family_gets_the_next_free_weekend_proposed(world, host):
    _home, provider = host
    series = sessions.propose_series(need=respite_need(world, provider), by=world.consultant, now=NOW)
    report = sessions.record_provider_absence(provider=provider, starts_at=local(2026, 12, 4),
                                              ends_at=local(2026, 12, 7), reason="illness", by=world.consultant,
                                              now=NOW)
    flagged = report.flagged[0]
    assert flagged.start == local(2026, 12, 4, 16)
    assert (flagged.proposed_start, flagged.proposed_end) == (local(2026, 12, 11, 16), local(2026, 12, 13, 18))
    moved = sessions.accept_replacement(occurrence=flagged, by=world.consultant, now=NOW)
    assert moved.status == OccurrenceStatus.MOVED and moved.place == 1
    assert series.occurrences.filter(status="moved").count() == 1
