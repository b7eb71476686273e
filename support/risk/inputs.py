"""What the support-need index may look at for one placement, as plain frozen dataclasses.

The service layer loads these from the database; the core never reads the clock or the database,
so a score can be recomputed for any past day from the same inputs. Records dated after the day
being scored are ignored, which is what lets the trend re-score earlier weeks.

What is *not* here is deliberate: there is no field for ethnicity, religion, language, citizenship,
the birth parents' diagnoses or substance use, benefit receipt, income, address, or the disability
of anyone in either household, and no free text. None of these may become an input (model card,
"Excluded attributes"); tests/risk/test_inputs.py fails if a field with such a name appears.

Pure module: no Django imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .config import INCIDENT_KINDS, SDQ_INFORMANTS


class RiskInputError(ValueError):
    """An input outside its documented range. Bad data should fail loudly, not score quietly."""


def _require(ok: bool, message: str, *args: object) -> None:
    """Raise with `message.format(*args)` unless `ok`; formatted only on failure (inputs are many)."""
    if not ok:
        raise RiskInputError(message.format(*args))


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_range(value: object, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class CheckIn:
    """The foster family's weekly check-in (the "pulse").

    `problem_behaviours` is a PDR-style count: how many behaviours from the checklist occurred in
    the last 24 hours (Chamberlain et al. 2006). `sleep` and `conflicts` are shown to the
    consultant but not scored in this version (no evidence anchor; see the model card). The
    free-text field of the check-in is never passed to the model.
    """

    on: date
    stress: int  # 0 (none) .. 10 (unbearable)
    help_now: bool = False  # "we need help now"
    sleep: int | None = None  # the carers' sleep this week, 1 (very poor) .. 5 (good)
    conflicts: int | None = None  # conflicts in the home this week
    commitment: int | None = None  # 0..10: "how sure are you that you can continue for 6 months?"
    problem_behaviours: int | None = None  # PDR-style count for the last 24 hours

    def __post_init__(self) -> None:
        _require(_whole(self.stress) and 0 <= self.stress <= 10, "check-in {}: stress must be 0-10", self.on)
        _require(self.sleep is None or (_whole(self.sleep) and 1 <= self.sleep <= 5), "check-in {}: sleep must be 1-5", self.on)
        _require(self.conflicts is None or (_whole(self.conflicts) and self.conflicts >= 0), "check-in {}: conflicts must be >= 0", self.on)
        _require(
            self.commitment is None or (_whole(self.commitment) and 0 <= self.commitment <= 10),
            "check-in {}: commitment must be 0-10", self.on,
        )
        _require(
            self.problem_behaviours is None or (_whole(self.problem_behaviours) and 0 <= self.problem_behaviours <= 30),
            "check-in {}: problem_behaviours must be 0-30 (the checklist has 30 items)", self.on,
        )


@dataclass(frozen=True)
class SdqReport:
    """One SDQ: total difficulties 0-40 and, when given, the impact supplement.

    informant "parent" is the foster carer. Self-reports (age 11+) feed the child's-own-view
    driver, not the behaviour driver, so one child's answers are never counted twice.
    """

    on: date
    informant: str  # "parent" | "teacher" | "self"
    total: int  # 0..40
    impact: int | None = None  # parent and self 0..10, teacher 0..6

    def __post_init__(self) -> None:
        _require(self.informant in SDQ_INFORMANTS, "SDQ {}: informant must be one of {}", self.on, SDQ_INFORMANTS)
        _require(_whole(self.total) and 0 <= self.total <= 40, "SDQ {}: total must be 0-40", self.on)
        top = 6 if self.informant == "teacher" else 10
        _require(self.impact is None or (_whole(self.impact) and 0 <= self.impact <= top), "SDQ {}: impact must be 0-{}", self.on, top)


@dataclass(frozen=True)
class AbsenceMonth:
    """School absence for one calendar month, as percentages of that month's school days."""

    month: date  # any day in the month; normalised to the 1st
    total_pct: float
    unlawful_pct: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "month", self.month.replace(day=1))
        _require(_in_range(self.total_pct, 0, 100), "absence {:%Y-%m}: total_pct must be 0-100", self.month)
        _require(_in_range(self.unlawful_pct, 0, 100), "absence {:%Y-%m}: unlawful_pct must be 0-100", self.month)
        _require(self.unlawful_pct <= self.total_pct, "absence {:%Y-%m}: unlawful absence cannot exceed total", self.month)


@dataclass(frozen=True)
class Incident:
    on: date
    kind: str  # one of config.INCIDENT_KINDS

    def __post_init__(self) -> None:
        _require(self.kind in INCIDENT_KINDS, "incident {}: kind must be one of {}", self.on, INCIDENT_KINDS)


@dataclass(frozen=True)
class ChildView:
    """The child's own answer to "how are things for you?" on a 1 (very bad) .. 5 (very good) scale."""

    on: date
    wellbeing: int

    def __post_init__(self) -> None:
        _require(_whole(self.wellbeing) and 1 <= self.wellbeing <= 5, "child view {}: wellbeing must be 1-5", self.on)


@dataclass(frozen=True)
class Period:
    """Something that was open from `start` until `end` (exclusive), or is still open."""

    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        _require(self.end is None or self.end >= self.start, "period starting {}: end before start", self.start)

    def open_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class SystemSignals:
    """Events the system itself records around the placement (research driver D6 and support).

    They carry dates, not today's counts, so an earlier week can be re-scored as it was.
    """

    consultant_changes: tuple[date, ...] = ()
    birth_family_conflicts: tuple[Period, ...] = ()  # unresolved conflict about samvær etc.
    supervision_overdue: tuple[Period, ...] = ()  # supervision later than the plan says
    fee_renegotiations: tuple[Period, ...] = ()  # open renegotiation of vederlag
    missed_sessions: tuple[date, ...] = ()  # support sessions missed or cancelled
    unmet_needs: tuple[Period, ...] = ()  # a support need from raised until served
    respite_days: tuple[date, ...] = ()  # days the foster family had respite (støtteophold)

    def __post_init__(self) -> None:
        for name in ("consultant_changes", "missed_sessions", "respite_days"):
            object.__setattr__(self, name, tuple(sorted(getattr(self, name))))
        for name in ("birth_family_conflicts", "supervision_overdue", "fee_renegotiations", "unmet_needs"):
            object.__setattr__(self, name, tuple(sorted(getattr(self, name), key=lambda p: p.start)))


@dataclass(frozen=True)
class Baseline:
    """Static history (research c.3). Shown as context; it can never raise red on its own."""

    prior_placements: int = 0
    prior_breakdowns: int = 0
    residential_history: bool = False
    kinship: bool = False  # netværksanbringelse
    separated_from_siblings: bool = False
    other_foster_children: int = 0  # other foster children living in the home now
    documented_maltreatment: bool = False

    def __post_init__(self) -> None:
        for name in ("prior_placements", "prior_breakdowns", "other_foster_children"):
            value = getattr(self, name)
            _require(_whole(value) and value >= 0, "baseline.{} must be a whole number >= 0", name)


@dataclass(frozen=True)
class PlacementInputs:
    """Everything the index may use for one placement. Sequences are stored sorted by date."""

    placement_id: str
    birth_date: date
    placement_start: date
    baseline: Baseline = field(default_factory=Baseline)
    attends_school: bool = True  # False for pre-school children and young people out of school
    checkins: tuple[CheckIn, ...] = ()
    sdq: tuple[SdqReport, ...] = ()
    absence: tuple[AbsenceMonth, ...] = ()
    incidents: tuple[Incident, ...] = ()
    child_views: tuple[ChildView, ...] = ()
    system: SystemSignals = field(default_factory=SystemSignals)

    def __post_init__(self) -> None:
        _require(self.placement_start >= self.birth_date, "placement_start is before birth_date")
        object.__setattr__(self, "checkins", tuple(sorted(self.checkins, key=lambda c: c.on)))
        object.__setattr__(self, "sdq", tuple(sorted(self.sdq, key=lambda r: r.on)))
        object.__setattr__(self, "absence", tuple(sorted(self.absence, key=lambda m: m.month)))
        object.__setattr__(self, "incidents", tuple(sorted(self.incidents, key=lambda i: i.on)))
        object.__setattr__(self, "child_views", tuple(sorted(self.child_views, key=lambda v: v.on)))
        months = [m.month for m in self.absence]
        _require(len(months) == len(set(months)), "absence has two rows for the same month")


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def birthday(birth_date: date, years: int) -> date:
    """The date someone turns `years`. A 29 February birthday falls on 28 February in common years,
    the earlier choice, so deadlines tied to it are never late."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:
        return birth_date.replace(year=birth_date.year + years, day=28)
