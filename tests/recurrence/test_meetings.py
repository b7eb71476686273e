"""Follow-up and start-up meetings: the earliest slot every invited party can make."""

from __future__ import annotations

from datetime import date

import pytest

from scheduler.recurrence import Interval, Party, RecurrenceError, find_meeting_slot

from .helpers import CPH, FAR_30KM, HOME, booking, local, utc, weekdays


def cast(**overrides) -> list[Party]:
    parties = {
        "consultant": Party("consultant", windows=weekdays("09:00", "15:00"), location=FAR_30KM),
        "foster parents": Party("foster parents", busy=[booking(local(2026, 6, 1, 9), 180)]),
        "birth parents": Party("birth parents", windows=weekdays("10:00", "14:00", days=(1, 2))),
        "provider": Party(
            "provider", windows=weekdays("08:00", "16:00"), busy=[booking(local(2026, 6, 2, 10), 60)]
        ),
        "child": Party("child", windows=weekdays("14:00", "17:00")),
    }
    parties.update(overrides)
    return list(parties.values())


def test_earliest_slot_where_every_required_party_is_free():
    result = find_meeting_slot(cast(), 60, local(2026, 6, 1), local(2026, 6, 13), optional_ids=["child"])
    assert result.found
    # Tuesday is the birth parents' first day; the provider is busy 10-11.
    assert result.slot.interval.start == local(2026, 6, 2, 11)
    assert result.slot.interval.end == local(2026, 6, 2, 12)
    assert set(result.slot.available) == {"consultant", "foster parents", "birth parents", "provider"}
    assert result.slot.missing_optional == ("child",)
    assert result.slot.missing_required == ()
    assert "child" in result.message


def test_child_becomes_required_when_asked():
    result = find_meeting_slot(cast(), 60, local(2026, 6, 1), local(2026, 6, 13))
    # The child (14-17) and the birth parents (10-14) never overlap.
    assert not result.found
    assert result.alternatives
    assert all(len(a.missing_required) == 1 for a in result.alternatives)


def test_ranked_alternatives_name_who_cannot_attend():
    away = Interval.local_days(date(2026, 6, 4), date(2026, 6, 4), ref="course")
    parties = cast(
        consultant=Party("consultant", windows=weekdays("09:00", "15:00"), absences=[away]),
        **{"birth parents": Party("birth parents", windows=weekdays("10:00", "12:00", days=(3,)))},
    )
    result = find_meeting_slot(
        parties, 60, local(2026, 6, 1), local(2026, 6, 6), optional_ids=["child"], max_alternatives=10
    )
    assert not result.found
    best = result.alternatives[0]
    # Monday 14:00: everyone but the birth parents, including the child.
    assert best.interval.start == local(2026, 6, 1, 14)
    assert [(u.party_id, u.reason, u.required) for u in best.unavailable] == [
        ("birth parents", "outside_availability", True)
    ]
    thursday = [a for a in result.alternatives if a.interval.start.astimezone(CPH).date() == date(2026, 6, 4)]
    assert thursday
    assert ("consultant", "absent", True, "course") in [
        (u.party_id, u.reason, u.required, u.detail) for u in thursday[0].unavailable
    ]
    ranks = [(len(a.missing_required), len(a.missing_optional)) for a in result.alternatives]
    assert ranks == sorted(ranks)
    keys = [
        (a.interval.start.astimezone(CPH).date(), frozenset(u.party_id for u in a.unavailable))
        for a in result.alternatives
    ]
    assert len(keys) == len(set(keys))


def test_meetings_are_not_put_on_public_holidays():
    thursdays = [
        Party("consultant", windows=weekdays("09:00", "15:00", days=(3,))),
        Party("foster parents", windows=weekdays("09:00", "15:00", days=(3,))),
    ]
    result = find_meeting_slot(thursdays, 60, local(2027, 5, 3), local(2027, 5, 20))
    assert result.slot.interval.start == local(2027, 5, 13, 9)  # not Ascension Day, 6 May


def test_in_person_meeting_leaves_travel_time_online_does_not():
    consultant = Party(
        "consultant",
        windows=weekdays("08:00", "15:00"),
        busy=[booking(local(2026, 6, 1, 9), 60, FAR_30KM, "visit")],
    )
    parents = Party("foster parents", windows=weekdays("10:00", "15:00"))
    in_person = find_meeting_slot(
        [consultant, parents], 60, local(2026, 6, 1), local(2026, 6, 2), location=HOME
    )
    assert in_person.slot.interval.start == local(2026, 6, 1, 10, 45)
    online = find_meeting_slot([consultant, parents], 60, local(2026, 6, 1), local(2026, 6, 2))
    assert online.slot.interval.start == local(2026, 6, 1, 10)


def test_slots_start_on_the_grid_within_the_window():
    parties = [Party("consultant", windows=weekdays("08:00", "16:00"))]
    result = find_meeting_slot(parties, 45, local(2026, 6, 2, 11, 20), local(2026, 6, 2, 13), grid_minutes=30)
    assert result.slot.interval.start == local(2026, 6, 2, 11, 30)
    none = find_meeting_slot(
        parties, 45, local(2026, 6, 2, 11, 20), local(2026, 6, 2, 12, 10), grid_minutes=30
    )
    assert not none.found
    assert none.alternatives == ()


def test_meeting_after_dst_change_keeps_local_grid():
    mondays = [Party("consultant", windows=weekdays("09:00", "10:00", days=(0,)))]
    before = find_meeting_slot(mondays, 60, local(2026, 10, 17), local(2026, 10, 21))
    after = find_meeting_slot(mondays, 60, local(2026, 10, 24), local(2026, 10, 28))
    assert before.slot.interval.start == utc(2026, 10, 19, 7)  # 09:00 CEST
    assert after.slot.interval.start == utc(2026, 10, 26, 8)  # 09:00 CET


def test_meeting_on_the_spring_forward_night_uses_real_instants():
    night_owl = [Party("on call", windows=[*weekdays("03:00", "04:00", days=(6,))])]
    result = find_meeting_slot(night_owl, 30, local(2026, 3, 29), local(2026, 3, 29, 6), grid_minutes=30)
    assert result.slot.interval.start == utc(2026, 3, 29, 1)  # 03:00 CEST, the first instant after the gap
    starts = [a.interval.start for a in result.alternatives]
    assert len(starts) == len(set(starts))


def test_unknown_or_conflicting_party_ids_are_errors():
    with pytest.raises(RecurrenceError) as err:
        find_meeting_slot(cast(), 60, local(2026, 6, 1), local(2026, 6, 2), optional_ids=["grandmother"])
    assert err.value.code == "unknown_party"
    with pytest.raises(RecurrenceError):
        find_meeting_slot(
            cast(), 60, local(2026, 6, 1), local(2026, 6, 2), required_ids=["child"], optional_ids=["child"]
        )
