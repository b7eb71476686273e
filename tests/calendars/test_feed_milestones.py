"""Statutory milestones in feeds: all-day events with stable UIDs, safe titles and a SEQUENCE that grows."""

from __future__ import annotations

import datetime as dt

import time_machine
from icalendar import Calendar

from calendars import feeds
from calendars.models import Feed
from calendars.services import feeds as feed_services
from support.models import Household, Milestone, MilestoneStatus
from support.wellbeing.milestones import complete_milestone, refresh_milestones, upcoming_milestones_for
from tests.calendars.conftest import count_queries
from tests.sessions.helpers import NOW, add_placement

TODAY = NOW.date()


def url(token: str) -> str:
    return f"/cal/{token}.ics"


def events_by_uid(body: bytes) -> dict:
    return {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def milestone(world, *, household=None, placement=None, code="handleplan", seq=0, due=dt.date(2026, 12, 1),
              title=("Handleplan revideres", "Plan review")) -> Milestone:
    subject = f"household:{household.pk}" if household else f"placement:{placement.pk}"
    return Milestone.objects.create(
        municipality=world.aarhus, subject=subject, placement=placement, household=household, rule_code=code,
        rule_version="1", source="Barnets lov", sequence=seq, title_da=title[0], title_en=title[1], due_on=due,
        warn_on=due - dt.timedelta(days=14), uid=f"{code}-{seq}-{subject.replace(':', '-')}@milestones.plejenet",
    )


def test_generated_milestones_reach_the_consultants_and_the_foster_familys_feeds(world, client, frozen):
    refresh_milestones(today=TODAY, now=NOW)
    consultant = feed_services.issue_feed(subject=world.consultant, by=world.consultant, now=NOW)
    family = feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW)
    birth = feed_services.issue_feed(subject=world.birth_home, by=world.birth_parent, now=NOW)
    staff_body = client.get(url(consultant.token)).content
    family_body = client.get(url(family.token)).content

    expected = {i.uid for i in upcoming_milestones_for(world.consultant, today=TODAY, days=120)}
    assert expected and set(events_by_uid(staff_body)) == expected  # the same deadlines the wellbeing app names
    own = {i.uid for i in upcoming_milestones_for(world.foster_parent, today=TODAY, days=120)}
    assert own and set(events_by_uid(family_body)) == own  # the family's own ledger: what it is owed
    assert all(uid.startswith("carer_") for uid in own)
    assert events_by_uid(client.get(url(birth.token)).content) == {}
    for body in (staff_body, family_body):
        text = body.decode()
        assert world.child.display_name not in text and "Demo-barn" not in text
        for event in events_by_uid(body).values():
            assert event["DTSTART"].params.get("VALUE") == "DATE" or isinstance(event["DTSTART"].dt, dt.date)
            assert not isinstance(event["DTSTART"].dt, dt.datetime)
            assert event["DTEND"].dt - event["DTSTART"].dt == dt.timedelta(days=1)
            assert str(event["TRANSP"]) == "TRANSPARENT" and str(event["CLASS"]) == "PRIVATE"
            assert str(event["SUMMARY"]).startswith("Frist: ")


def test_titles_say_the_kind_of_deadline_and_the_consultants_say_which_case(world, client, frozen):
    plan = milestone(world, placement=world.placement)
    owed = milestone(world, household=world.foster_home, code="carer_course_days", seq=2026,
                     title=("Kursusdage", "Course days"))
    consultant = feed_services.issue_feed(subject=world.consultant, by=world.consultant, now=NOW, language="en")
    family = feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW)
    staff = events_by_uid(client.get(url(consultant.token)).content)
    assert str(staff[plan.uid]["SUMMARY"]) == f"Deadline: Plan review (placement #{world.placement.pk})"
    assert str(staff[owed.uid]["SUMMARY"]) == "Deadline: Course days"
    assert staff[plan.uid]["DTSTART"].dt == dt.date(2026, 12, 1)
    mine = events_by_uid(client.get(url(family.token)).content)
    assert set(mine) == {owed.uid}  # not the consultant's case deadlines
    assert str(mine[owed.uid]["SUMMARY"]) == "Frist: Kursusdage"
    # Another family and another municipality's consultant see none of them.
    other = feed_services.issue_feed(subject=world.other_foster_home, by=world.other_foster_parent, now=NOW)
    odense = feed_services.issue_feed(subject=world.other_consultant, by=world.other_consultant, now=NOW)
    assert not {plan.uid, owed.uid} & set(events_by_uid(client.get(url(other.token)).content))
    assert not {plan.uid, owed.uid} & set(events_by_uid(client.get(url(odense.token)).content))


def test_a_moved_deadline_keeps_its_uid_raises_its_sequence_and_changes_the_etag(world, client):
    with time_machine.travel(NOW, tick=False):
        owed = milestone(world, household=world.foster_home, code="carer_supervision", seq=2026001,
                         title=("Supervision", "Supervision"))
        plan = milestone(world, placement=world.placement)
        family = feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW)
        staff = feed_services.issue_feed(subject=world.consultant, by=world.consultant, now=NOW)
        first = {key: client.get(url(issued.token)) for key, issued in (("family", family), ("staff", staff))}
    before = {key: events_by_uid(r.content) for key, r in first.items()}

    later = NOW + dt.timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        for m in (owed, plan):
            m.due_on = dt.date(2026, 12, 15)
            m.save()  # as refresh_milestones does when a rule moves a date: updated_at moves too
        for key, issued in (("family", family), ("staff", staff)):
            response = client.get(url(issued.token), HTTP_IF_NONE_MATCH=first[key]["ETag"])
            assert response.status_code == 200, key  # not a stale 304
            assert response["ETag"] != first[key]["ETag"]
            uid = owed.uid if key == "family" else plan.uid
            event, old = events_by_uid(response.content)[uid], before[key][uid]
            assert event["DTSTART"].dt == dt.date(2026, 12, 15)
            assert event["SEQUENCE"] > old["SEQUENCE"]
            assert event["DTSTAMP"].dt > old["DTSTAMP"].dt
            # And unchanged since: a conditional GET is answered 304.
            assert client.get(url(issued.token), HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_a_met_deadline_leaves_the_feed(world, client):
    with time_machine.travel(NOW, tick=False):
        plan = milestone(world, placement=world.placement)
        staff = feed_services.issue_feed(subject=world.consultant, by=world.consultant, now=NOW)
        etag = client.get(url(staff.token))["ETag"]
        complete_milestone(milestone=plan, by=world.consultant, now=NOW)
        assert Milestone.objects.get(pk=plan.pk).status == MilestoneStatus.DONE
        response = client.get(url(staff.token), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert plan.uid not in events_by_uid(response.content)


def test_a_household_feeds_304_is_still_one_query_with_milestones(world, client, frozen):
    milestone(world, household=world.foster_home, code="carer_course_days", seq=2026)
    family = feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW)
    etag = client.get(url(family.token))["ETag"]
    with count_queries() as queries:
        assert client.get(url(family.token), HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert len(queries) == 1 and "JOIN" not in queries[0], queries


def test_rendering_milestones_takes_the_same_number_of_queries_for_one_or_many(world, frozen):
    counts = {}
    for key, subject, by in (("family", world.foster_home, world.foster_parent),
                             ("staff", world.consultant, world.consultant)):
        feed_id = feed_services.issue_feed(subject=subject, by=by, now=NOW).feed.pk
        counts[key] = []
        for n in (1, 8):
            for i in range(n):
                placement = add_placement(world, f"M{key}{n}-{i}")  # a case of the consultant, in a new family
                milestone(world, household=world.foster_home, code="carer_supervision", seq=2026000 + len(
                    Milestone.objects.all()) + 1, title=("Supervision", "Supervision"))
                milestone(world, placement=placement, seq=0)
            feed = Feed.objects.select_related("household", "user").get(pk=feed_id)
            with count_queries() as queries:
                body = feeds.render(feed, NOW)
            assert events_by_uid(body)
            counts[key].append(len(queries))
        assert counts[key][0] == counts[key][1], (key, counts[key])
    assert Household.objects.count() > 10


def test_the_prepared_feed_lookup_gives_what_the_orm_query_gives(world, frozen):
    """calendars.lookup compiles the lookup once and fills in the token and today's horizon:
    same feed, same fingerprint (an aware datetime on SQLite too), for each day it is asked about."""
    from calendars import access, lookup
    from calendars import milestones as cal_milestones

    milestone(world, household=world.foster_home, code="carer_course_days", seq=2026,
              due=TODAY + dt.timedelta(days=40))
    later = milestone(world, household=world.foster_home, code="carer_supervision", seq=2026001,
              due=TODAY + dt.timedelta(days=400))  # beyond the horizon today, inside it a year on
    family = feed_services.issue_feed(subject=world.foster_home, by=world.foster_parent, now=NOW)
    token_hash = access.hash_token(family.token)
    for today in (TODAY, TODAY + dt.timedelta(days=365)):
        expected = (Feed.objects.live().filter(token_hash=token_hash)
                    .annotate(**cal_milestones.household_fingerprint(today)).get())
        found = lookup.live_feed(token_hash, today)
        assert found.pk == family.feed.pk and found.token_hash == token_hash
        assert found.milestones_shown == expected.milestones_shown
        assert found.milestones_changed_at == expected.milestones_changed_at == later.updated_at
        assert found.milestones_changed_at.tzinfo is not None
    assert lookup.live_feed(token_hash, TODAY).milestones_shown == 1
    assert lookup.live_feed(token_hash, TODAY + dt.timedelta(days=365)).milestones_shown == 2
    assert lookup.live_feed(access.hash_token("not-a-token"), TODAY) is None
    feed_services.revoke_feed(feed=Feed.objects.get(pk=family.feed.pk), by=world.foster_parent, now=NOW)
    assert lookup.live_feed(token_hash, TODAY) is None
