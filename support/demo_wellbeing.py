"""The demo's activity: session series, a follow-up meeting, well-being signals, goals, scores, milestones.

`support.demo` builds the people and the cases; `add_activity(today=...)` then makes them move,
only through the real services, so the demo shows what the product does with such data:

* every assigned need gets a confirmed session series (scheduler.services.sessions), and the
  login foster family has a follow-up meeting with its consultant and the birth parents;
* about 12 weeks of weekly check-ins, monthly school absence, a few carer SDQs and incidents for
  each active placement in a foster family, recorded on their own (past) days with a `now` of
  that evening, chosen with random.Random(SEED) into profiles: mostly calm ("green"), some under
  strain ("yellow"), a few with strain rising over the last weeks ("red"), and two families who
  stopped reporting ("no recent data");
* two measurable goals for each of the Testrup family's placements (support.wellbeing.goals);
* then the real computation: milestones for the demo placements and foster households, and one
  risk score per placement (support.wellbeing.scoring), which opens alerts for the levels that rose.

Everything written is invented and says so ("(demo)"); free text is short and neutral. The
services' re-scoring requests are gathered (signals.recompute_in_one_go) rather than queued as a
task per signal: every placement is scored once at the end.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from scheduler.models import (
    BOOKED_STATUSES,
    BookingParty,
    Meeting,
    MeetingKind,
    SessionOccurrence,
    SessionSeries,
)
from scheduler.services import meetings, sessions
from support.errors import DomainError
from support.models import (
    Alert,
    AlertStatus,
    CheckIn,
    Goal,
    GoalDirection,
    GoalIndicator,
    Household,
    HouseholdKind,
    IncidentKind,
    Membership,
    Milestone,
    NeedStatus,
    Placement,
    PlacementStatus,
    RiskScore,
    SdqInformant,
    SupportNeed,
)
from support.roles import Role
from support.wellbeing import goals, milestones, scoring, signals

SEED = 2027
WEEKS = 12
SESSION_TIME = dt.time(7, 0)  # "now" for the scheduling: the morning of the seed day
EVENING = dt.time(20, 0)  # check-ins are sent in the evening of their day


def _at(day: dt.date, at: dt.time) -> dt.datetime:
    from support.demo import COPENHAGEN

    return dt.datetime.combine(day, at, tzinfo=COPENHAGEN)


@dataclass(frozen=True)
class Profile:
    """How one placement's weeks went: base values, and how far strain rose in the last weeks."""

    name: str
    stress: tuple[int, int]
    behaviours: tuple[int, int]
    commitment: tuple[int, int]
    sdq: tuple[int, int]
    absence: tuple[float, float]
    rise_weeks: int = 0  # the last n weeks are worse
    silent_weeks: int = 0  # the last n weeks have no check-in


PROFILES = {
    "calm": Profile("calm", (1, 3), (0, 4), (8, 10), (6, 12), (0.0, 4.0)),
    "strained": Profile("strained", (6, 7), (7, 9), (6, 7), (15, 16), (6.0, 9.0)),
    "rising": Profile("rising", (3, 4), (3, 5), (7, 8), (14, 16), (5.0, 8.0), rise_weeks=4),
    "silent": Profile("silent", (2, 4), (1, 4), (7, 9), (8, 13), (1.0, 5.0), silent_weeks=5),
}
_NOTES = ("Rolig uge (demo)", "Travl uge med skole og fritid (demo)", "Godt samvær i weekenden (demo)",
          "Svært ved at falde i søvn (demo)", "")


def add_activity(*, today: dt.date) -> None:
    """Schedule, report, score: see the module docstring. Runs inside `support.demo.seed`'s transaction."""
    from support.demo import demo_municipalities

    munis = list(demo_municipalities().order_by("name"))  # Demo-Aarhus, Demo-Skanderborg
    staff = {
        m.municipality_id: m.user
        for m in Membership.objects.filter(role=Role.CONSULTANT, municipality__in=munis).select_related("user")
    }
    foster_login = get_user_model().objects.get(username="plejeforaelder", memberships__role=Role.FOSTER_PARENT)
    testrup = Household.objects.get(memberships__user=foster_login)
    now = _at(today, SESSION_TIME)

    for municipality in munis:  # a need that cannot be placed is counted as unscheduled in the summary
        sessions.schedule_assignments(municipality=municipality, by=staff[municipality.pk], now=now, confirm=True)

    placements = list(
        Placement.objects.filter(municipality__in=munis, status=PlacementStatus.ACTIVE, foster_household__isnull=False,
                                 starts_on__lte=today)
        .select_related("child", "foster_household").order_by("pk")
    )
    theirs = [p for p in placements if p.foster_household_id == testrup.pk]
    _book_follow_up(theirs[0], by=staff[theirs[0].municipality_id], now=now, today=today)

    profiles = _profiles(random.Random(SEED), placements, theirs)
    rng = random.Random(SEED + 1)
    # Of the rising placements, the first sends "we need help now", the second has an incident;
    # the others turn red on the index alone.
    acute = iter(("help_now", "incident"))
    # The services would queue a re-scoring task per signal; the placements are scored once below.
    with signals.recompute_in_one_go() as touched:
        for placement in placements:
            profile = profiles[placement.pk]
            reporter = foster_login if placement.foster_household_id == testrup.pk else staff[placement.municipality_id]
            _report(rng, placement, profile, family=reporter, staff=staff[placement.municipality_id], today=today,
                    acute=next(acute, "") if profile.rise_weeks else "")
        for placement in theirs:
            _set_goals(placement, by=staff[placement.municipality_id], today=today, now=now)

    ids = sorted({p.pk for p in placements} | touched)
    homes = Household.objects.filter(municipality__in=munis, kind=HouseholdKind.FOSTER).values_list("pk", flat=True)
    milestones.refresh_milestones(today=today, now=now, placement_ids=ids, household_ids=list(homes))
    scoring.recompute_placements(placement_ids=ids, now=now)


def _profiles(rng: random.Random, placements: list[Placement], theirs: list[Placement]) -> dict[int, Profile]:
    """Mostly calm; about a fifth strained, a tenth rising, two silent. The Testrup siblings: strained, calm."""
    others = [p for p in placements if p not in theirs]
    n = len(others)
    names = ["rising"] * max(2, round(n * 0.1)) + ["silent"] * 2 + ["strained"] * max(3, round(n * 0.18))
    names += ["calm"] * (n - len(names))
    rng.shuffle(names)
    chosen = {p.pk: PROFILES[name] for p, name in zip(others, names, strict=True)}
    for placement, name in zip(theirs, ("strained", "calm"), strict=False):
        chosen[placement.pk] = PROFILES[name]
    return chosen


def _report(rng: random.Random, placement: Placement, profile: Profile, *, family, staff, today: dt.date,
            acute: str = "") -> None:
    """Weekly check-ins, monthly school absence, SDQs and incidents, each on its own day in the past."""
    first = max(placement.starts_on, today - dt.timedelta(weeks=WEEKS))
    weekday = rng.randrange(7)
    rising = profile.rise_weeks
    for week in range(WEEKS):
        day = today - dt.timedelta(weeks=WEEKS - 1 - week, days=weekday)
        weeks_left = WEEKS - 1 - week
        if day < first or day > today or weeks_left < profile.silent_weeks:
            continue
        stress, behaviours, commitment = (rng.randint(*profile.stress), rng.randint(*profile.behaviours),
                                          rng.randint(*profile.commitment))
        if weeks_left < rising:  # strain building up over the last weeks
            step = rising - weeks_left
            stress, behaviours, commitment = min(10, stress + 1 + step), behaviours + 2 * step, max(2, commitment - step)
        help_now = acute == "help_now" and weeks_left == 0
        signals.record_checkin(
            placement=placement, by=family, on=day, now=_at(day, EVENING), stress=stress, help_now=help_now,
            sleep=rng.randint(2, 5), conflicts=rng.randint(0, 3), commitment=commitment,
            problem_behaviours=behaviours, free_text=rng.choice(_NOTES) if rng.random() < 0.25 else "",
        )
    if placement.child.age_on(today) >= 6:
        for back in (3, 2, 1):
            month = (today.replace(day=1) - dt.timedelta(days=28 * back - 14)).replace(day=1)
            if month < placement.starts_on.replace(day=1):
                continue
            total = round(rng.uniform(*profile.absence) + (4 if rising and back == 1 else 0), 1)
            signals.record_school_absence(placement=placement, by=staff, month=month, total_pct=total,
                                          unlawful_pct=round(total * rng.uniform(0, 0.3), 1),
                                          now=_at(month + dt.timedelta(days=35), SESSION_TIME))
    for weeks_ago in (10, 3) if profile.name != "calm" else (8,):
        day = today - dt.timedelta(weeks=weeks_ago, days=rng.randrange(7))
        if day < placement.starts_on or (profile.name == "calm" and rng.random() < 0.5):
            continue
        total = rng.randint(*profile.sdq) + (4 if rising and weeks_ago == 3 else 0)
        signals.record_sdq(placement=placement, by=staff, on=day, informant=SdqInformant.PARENT, total=min(40, total),
                           impact=2 if rising and weeks_ago == 3 else rng.randint(0, 1), now=_at(day, EVENING))
    if acute == "incident":
        day = max(placement.starts_on, today - dt.timedelta(days=rng.randint(5, 20)))
        signals.record_incident(placement=placement, by=staff, on=day, kind=IncidentKind.RUNNING_AWAY,
                                note="Kom selv hjem samme aften (demo)", now=_at(day, EVENING))
    elif profile.name == "strained" and rng.random() < 0.4:
        day = max(placement.starts_on, today - dt.timedelta(days=rng.randint(45, 80)))
        signals.record_incident(placement=placement, by=staff, on=day, kind=IncidentKind.VIOLENCE,
                                note="Konflikt mellem søskende, ingen skadet (demo)", now=_at(day, EVENING))


def _set_goals(placement: Placement, *, by, today: dt.date, now: dt.datetime) -> None:
    review = today + dt.timedelta(days=90)
    if placement.child.age_on(today) >= 6:
        goals.create_goal(placement=placement, by=by, title="Mere tid i skolen (demo)",
                          indicator=GoalIndicator.ABSENCE_PCT, baseline=9, target=4,
                          direction=GoalDirection.DECREASE, review_on=review, now=now)
    goals.create_goal(placement=placement, by=by, title="Færre vanskeligheder i hverdagen (demo)",
                      indicator=GoalIndicator.SDQ_TOTAL, baseline=17, target=12, direction=GoalDirection.DECREASE,
                      review_on=review, now=now)


def _book_follow_up(placement: Placement, *, by, now: dt.datetime, today: dt.date) -> Meeting:
    """A follow-up meeting in two to five weeks: the first time everyone is free, else the best alternative.

    Consultants keep office hours and foster families often only have evenings, so there may be
    no time inside everyone's windows; the consultant then agrees a time with the family, which
    book_meeting allows (it still refuses absences and double bookings).
    """
    found = meetings.find_meeting(
        placement=placement, window_start=_at(today + dt.timedelta(days=14), dt.time(0)),
        window_end=_at(today + dt.timedelta(days=35), dt.time(0)), now=now, duration_minutes=60,
        in_person_at=placement.foster_household,
    )
    candidates = [found.result.slot] if found.found else list(found.result.alternatives)
    refusals = []
    for slot in candidates:
        try:
            return meetings.book_meeting(
                placement=placement, kind=MeetingKind.FOLLOW_UP, start=slot.interval.start, by=by, now=now,
                in_person_at=placement.foster_household, title="Opfølgningsmøde (demo)",
            )
        except DomainError as exc:
            refusals.append(exc.message)
    raise DomainError(f"The demo follow-up meeting found no time: {found.result.message} {refusals}")


def level_counts(municipalities) -> Counter[str]:
    """The latest score's level per placement, counted."""
    return Counter(RiskScore.objects.filter(municipality__in=municipalities, latest=True).values_list("level", flat=True))


def activity_counts(municipalities) -> dict[str, int]:
    """The summary's lines for what `add_activity` made (municipalities: a queryset or list)."""
    booked = SessionOccurrence.objects.filter(series__municipality__in=municipalities, status__in=BOOKED_STATUSES)
    levels = level_counts(municipalities)
    return {
        "session series": SessionSeries.objects.filter(municipality__in=municipalities).count(),
        "unscheduled assigned needs": SupportNeed.objects.filter(
            municipality__in=municipalities, status=NeedStatus.ASSIGNED
        ).exclude(session_series__isnull=False).count(),
        "sessions booked": booked.count(),
        "meetings": Meeting.objects.filter(municipality__in=municipalities).count(),
        "check-ins": CheckIn.objects.filter(municipality__in=municipalities).count(),
        "goals": Goal.objects.filter(municipality__in=municipalities).count(),
        "milestones": Milestone.objects.filter(municipality__in=municipalities).count(),
        **{f"{level} scores": levels[level] for level in ("green", "yellow", "red", "no_data")},
        "open alerts": Alert.objects.filter(municipality__in=municipalities, status=AlertStatus.OPEN).count(),
    }


def activity_rows(municipalities) -> list:
    """Querysets deleting what `add_activity` made, in an order the PROTECT relations allow.

    The signals, scores and goals would go with their placements anyway (CASCADE); they are listed
    so the reset's count names them. Outbox messages about demo events would outlive them (SET_NULL),
    and booking parties are keyed by the demo's ids, so both are removed too.
    """
    from calendars.models import OutboxMessage
    from support.demo import demo_providers, demo_users
    from support.models import Child, ChildView, Incident, SchoolAbsence, SdqScore

    series = SessionSeries.objects.filter(municipality__in=municipalities)
    meetings_ = Meeting.objects.filter(municipality__in=municipalities)
    keys = [
        *(f"provider:{pk}" for pk in demo_providers().values_list("pk", flat=True)),
        *(f"user:{pk}" for pk in demo_users().values_list("pk", flat=True)),
        *(f"child:{pk}" for pk in Child.objects.filter(municipality__in=municipalities).values_list("pk", flat=True)),
    ]
    households = list(Household.objects.filter(municipality__in=municipalities).values_list("pk", flat=True))
    keys += [f"household:{pk}" for pk in households]
    places = Q()
    for pk in households:
        places |= Q(key__startswith=f"place:{pk}:")
    parties = BookingParty.objects.filter(Q(key__in=keys) | places) if households else BookingParty.objects.none()
    return [
        OutboxMessage.objects.filter(Q(series__in=series) | Q(meeting__in=meetings_) | Q(municipality__in=municipalities)),
        meetings_,
        series,
        parties.filter(bookings__isnull=True),
        Alert.objects.filter(municipality__in=municipalities),
        RiskScore.objects.filter(municipality__in=municipalities),
        Milestone.objects.filter(municipality__in=municipalities),
        Goal.objects.filter(municipality__in=municipalities),
        CheckIn.objects.filter(municipality__in=municipalities),
        SdqScore.objects.filter(municipality__in=municipalities),
        SchoolAbsence.objects.filter(municipality__in=municipalities),
        Incident.objects.filter(municipality__in=municipalities),
        ChildView.objects.filter(municipality__in=municipalities),
    ]
