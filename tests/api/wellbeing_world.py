"""One of every well-being record in each place it can be: the caller's own foster family's placement
(`own`), another foster family's placement in the same municipality (`other_household`), and a
placement in the other municipality (`odense`). Built through the services, as people would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import time_machine

from support.models import (
    Alert,
    CheckIn,
    ChildView,
    Goal,
    GoalMeasurement,
    Incident,
    Milestone,
    Placement,
    RiskScore,
    SchoolAbsence,
    ScoreAssessment,
    SdqScore,
)
from support.wellbeing import alerts, goals, signals
from support.wellbeing.milestones import refresh_milestones
from support.wellbeing.scoring import recompute_placements
from tests.api.conftest import ApiWorld

CPH = ZoneInfo("Europe/Copenhagen")
NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CPH)
TODAY = NOW.date()
SECRET = "Fiktiv fritekst: vi sover ikke om natten"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@dataclass
class WellbeingWorld:
    a: ApiWorld
    placements: dict[str, Placement]

    @property
    def w(self):
        return self.a.w

    def user(self, role: str):
        return self.a.user(role)


def reporter(a: ApiWorld, key: str):
    return {"own": a.w.foster_parent, "other_household": a.w.other_foster_parent, "odense": a.w.other_consultant}[key]


def consultant(a: ApiWorld, key: str):
    return a.w.other_consultant if key == "odense" else a.w.consultant


def record_everything(a: ApiWorld, placement: Placement, key: str) -> None:
    by, staff = reporter(a, key), consultant(a, key)
    day = TODAY - dt.timedelta(days=3)
    signals.record_checkin(placement=placement, by=by, on=day, stress=8, help_now=True, free_text=SECRET, now=NOW)
    signals.record_sdq(placement=placement, by=staff, on=day, informant="teacher", total=18, impact=2, now=NOW)
    signals.record_school_absence(placement=placement, by=staff, month=dt.date(2026, 10, 1), total_pct="12.5",
                                  unlawful_pct="4", now=NOW)
    signals.record_incident(placement=placement, by=by, on=day, kind="running_away", note=SECRET, now=NOW)
    signals.record_child_view(placement=placement, by=by, on=day, wellbeing=2, comment=SECRET, now=NOW)
    goal = goals.create_goal(placement=placement, by=staff, title="Færre konflikter (fiktiv)", indicator="custom",
                             baseline=10, target=2, direction="decrease", review_on=dt.date(2027, 3, 1), now=NOW)
    goals.record_goal_measurement(goal=goal, by=staff, on=day, value=6, now=NOW)


@pytest.fixture
def wb(api_world, frozen) -> WellbeingWorld:
    return build_wellbeing_world(api_world)


def build_wellbeing_world(a: ApiWorld) -> WellbeingWorld:
    """The records, made at NOW (the caller freezes the clock there)."""
    placements = {"own": a.w.placement, "other_household": a.other_placement, "odense": a.w.odense_placement}
    for key, placement in placements.items():
        record_everything(a, placement, key)
    recompute_placements(placement_ids=[p.pk for p in placements.values()], now=NOW)
    for key, placement in placements.items():
        score = RiskScore.objects.get(placement=placement, latest=True)
        alerts.record_assessment(score=score, by=consultant(a, key), decision="agree", now=NOW)
    # A newer score for the own placement, which nobody has assessed yet.
    recompute_placements(placement_ids=[a.w.placement.pk], now=NOW)
    refresh_milestones(today=TODAY, now=NOW)
    return WellbeingWorld(a=a, placements=placements)


# endpoint -> model (rows are found by placement)
BY_PLACEMENT = {
    "checkin": CheckIn, "sdq-score": SdqScore, "school-absence": SchoolAbsence, "incident": Incident,
    "child-view": ChildView, "goal": Goal, "risk-score": RiskScore, "score-assessment": ScoreAssessment,
    "alert": Alert,
}


LEDGER_HOUSEHOLD = {
    "own_ledger": lambda w: w.foster_home, "other_ledger": lambda w: w.other_foster_home,
    "odense_ledger": lambda w: w.odense_foster_home,
}


def rows(wb: WellbeingWorld, endpoint: str, key: str):
    """Every row of `endpoint` that belongs to `key`: a placement, or a foster family's ledger (`*_ledger`)."""
    if endpoint == "milestone":
        if key.endswith("_ledger"):
            return Milestone.objects.filter(household=LEDGER_HOUSEHOLD[key](wb.w))
        return Milestone.objects.filter(placement=wb.placements[key])
    if endpoint == "goal-measurement":
        return GoalMeasurement.objects.filter(goal__placement=wb.placements[key])
    return BY_PLACEMENT[endpoint].objects.filter(placement=wb.placements[key])
