"""Statutory and long-term milestones as data: each rule names its source and how sure we are.

Section numbers are from Barnets lov, LBK nr 282 af 17/03/2025 (via lovguiden.dk), as gathered
in /work/shared/research/danish-rules.md. Marks: "verified" checked against the source,
"partly" partly checked, "not_verified" expert judgement or an unverified secondary source.
Every generated Milestone row stores the rule's code, this table's version and the source.

A municipality changes a number through settings, under a new version string:

    MILESTONE_RULES = {"version": "aarhus-2026.1", "follow_up": {"default_cadence_months": 3}}

Pure module: no Django imports (settings are passed in by `rules_from_settings`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from support.risk import Text

RULES_VERSION = "2026.1"

LOVGUIDEN = "https://www.lovguiden.dk/loven/bekendtgørelse-af-barnets-lov/"


class MilestoneRulesError(ValueError):
    """A rules override that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class Source:
    citation: str
    url: str
    checked: str  # "verified" | "partly" | "not_verified"

    def __str__(self) -> str:
        mark = {"verified": "✅", "partly": "⚠️", "not_verified": "❌"}[self.checked]
        return f"{self.citation} {mark}"


@dataclass(frozen=True)
class ChildPlanRule:
    """Barnets plan within 3 months of the placement decision (§ 91)."""

    title: Text = Text("Child's plan (barnets plan) due", "Barnets plan skal foreligge")
    months: int = 3
    warn_days: int = 21
    source: Source = Source("Barnets lov § 91 (LBK 282/2025)", LOVGUIDEN + "91", "verified")


@dataclass(frozen=True)
class FollowUpRule:
    """First follow-up within 3 months; then the cadence the consultant decides and justifies (§ 95).

    `default_cadence_months` is used only while no cadence is recorded, and the title says so.
    It is municipal practice (Svendborg: 2 plan follow-ups a year), not law.
    """

    first_title: Text = Text("First follow-up (opfølgning) due", "Første opfølgning skal ske")
    next_title: Text = Text("Follow-up (opfølgning) due", "Opfølgning skal ske")
    first_months: int = 3
    default_cadence_months: int = 6
    warn_days: int = 21
    source: Source = Source("Barnets lov § 95 (LBK 282/2025)", LOVGUIDEN + "95", "verified")
    default_source: Source = Source("Svendborg municipal practice: 2 follow-ups a year (not law)",
                                    "https://www.svendborg.dk/", "partly")


@dataclass(frozen=True)
class YouthPlanRule:
    """Ungeplan ready within 3 months of the 16th birthday, or of the placement if later (§ 108)."""

    title: Text = Text("Youth plan (ungeplan) due", "Ungeplan skal foreligge")
    at_age: int = 16
    months: int = 3
    warn_days: int = 30
    source: Source = Source("Barnets lov §§ 108-109 (LBK 282/2025)", LOVGUIDEN + "108", "verified")


@dataclass(frozen=True)
class AftercareRule:
    """Decision on support after 18 (ungestøtte) at least 6 months before the 18th birthday (§ 111)."""

    title: Text = Text("Decision on support after 18 (ungestøtte) due", "Afgørelse om ungestøtte skal træffes")
    at_age: int = 18
    months_before: int = 6
    warn_days: int = 60
    source: Source = Source("Barnets lov § 111 (LBK 282/2025)", LOVGUIDEN + "111", "verified")


@dataclass(frozen=True)
class CourseDaysRule:
    """At least 2 full course days a year for almene, forstærkede and specialiserede families.

    A denser first year for a new placement: 3 days in a year that contains any placement's
    first year. That third day comes from a secondary source and is not verified in law.
    Respite families are not covered (Viborg); network families have their own support duty.
    """

    title: Text = Text("Course days (efteruddannelse) for the year", "Kursusdage (efteruddannelse) i året")
    days_per_year: int = 2
    first_year_days: int = 3
    foster_types: tuple[str, ...] = ("almen", "forstaerket", "specialiseret")
    warn_days: int = 60
    source: Source = Source(
        "Plejefamiliebekendtgørelsen § 5 (bek. 522/2019; Barnets lov § not verified)",
        "https://www.elov.dk/plejefamiliebekendtgorelsen/paragraf/5/", "partly",
    )
    first_year_source: Source = Source("Intensive first-year support, >= 3 days (secondary source)",
                                       "https://naturterapien.dk/artikler/supervision-af-plejefamilier---lovgrundlag-praksis",
                                       "not_verified")


@dataclass(frozen=True)
class SupervisionRule:
    """Supervision "in line with the size of the task": sessions a year per placed child.

    The law gives no number; these are expert defaults to be set by each municipality. A
    placement's first year is supervised monthly (two thirds of breakdowns happen in year one,
    Egelund 2010). Owed sessions are spread evenly over the year, so a late one shows as overdue
    (and as the "supervision overdue" stressor in the index) after `grace_days`.
    """

    title: Text = Text("Supervision session for the foster family", "Supervision til plejefamilien")
    first_year_per_year: int = 12
    per_year: tuple[tuple[str, int], ...] = (("almen", 4), ("forstaerket", 6), ("specialiseret", 10), ("netvaerk", 4))
    grace_days: int = 14
    warn_days: int = 14
    source: Source = Source(
        "Plejefamiliebekendtgørelsen § 5: supervision in line with the task; counts are expert defaults",
        "https://www.elov.dk/plejefamiliebekendtgorelsen/paragraf/5/", "not_verified",
    )

    def sessions_for(self, foster_type: str) -> int:
        return dict(self.per_year).get(foster_type, 0)


@dataclass(frozen=True)
class GoalReviewRule:
    """Reviewing a goal agreed in the child's plan on its review date (§ 92: concrete goals)."""

    title: Text = Text("Goal review due", "Opfølgning på mål")
    warn_days: int = 14
    source: Source = Source("Barnets lov § 92 (LBK 282/2025)", LOVGUIDEN + "92", "verified")


@dataclass(frozen=True)
class MilestoneRules:
    version: str = RULES_VERSION
    # A deadline is alerted as overdue only within this many days after it passed (no day-one flood).
    overdue_alert_days: int = 30
    child_plan: ChildPlanRule = field(default_factory=ChildPlanRule)
    follow_up: FollowUpRule = field(default_factory=FollowUpRule)
    youth_plan: YouthPlanRule = field(default_factory=YouthPlanRule)
    aftercare: AftercareRule = field(default_factory=AftercareRule)
    course_days: CourseDaysRule = field(default_factory=CourseDaysRule)
    supervision: SupervisionRule = field(default_factory=SupervisionRule)
    goal_review: GoalReviewRule = field(default_factory=GoalReviewRule)


DEFAULT_RULES = MilestoneRules()

# Rule codes as stored on Milestone rows.
CHILD_PLAN = "child_plan"
FOLLOW_UP = "follow_up"
YOUTH_PLAN = "youth_plan"
AFTERCARE = "aftercare_decision"
COURSE_DAYS = "carer_course_days"
SUPERVISION = "carer_supervision"
GOAL_REVIEW = "goal_review"


def rules_from_settings(data: Mapping[str, Any] | None) -> MilestoneRules:
    """DEFAULT_RULES with the overrides in `data` (numbers and tuples only; texts and sources stay)."""
    if not data:
        return DEFAULT_RULES
    if "version" not in data or data["version"] == RULES_VERSION:
        raise MilestoneRulesError("MILESTONE_RULES.version: overrides need their own version string")
    rules = DEFAULT_RULES
    changes: dict[str, Any] = {"version": str(data["version"])}
    for name, overrides in data.items():
        if name == "version":
            continue
        if name == "overdue_alert_days":
            if isinstance(overrides, bool) or not isinstance(overrides, int) or overrides < 0:
                raise MilestoneRulesError("MILESTONE_RULES.overdue_alert_days must be a whole number >= 0")
            changes[name] = overrides
            continue
        if not hasattr(rules, name) or not isinstance(overrides, Mapping):
            raise MilestoneRulesError(f"MILESTONE_RULES.{name} is not a known rule")
        rule = getattr(rules, name)
        allowed = {f.name for f in dataclasses.fields(rule) if f.type in ("int", "tuple[str, ...]", "tuple[tuple[str, int], ...]")}
        unknown = set(overrides) - allowed
        if unknown:
            raise MilestoneRulesError(f"MILESTONE_RULES.{name}: cannot set {sorted(unknown)}")
        values = {k: (tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v)
                  for k, v in overrides.items()}
        for k, v in values.items():
            if isinstance(v, int) and (isinstance(v, bool) or v < 0):
                raise MilestoneRulesError(f"MILESTONE_RULES.{name}.{k} must be a whole number >= 0")
        changes[name] = dataclasses.replace(rule, **values)
    return dataclasses.replace(rules, **changes)
