"""The six dynamic drivers: each turns recent reports into a severity s in [0, 1], or "unknown".

One function per driver, following research (c.2). Each looks only at records dated on or before
`day` and within its staleness window (staleness_factor x the source's cadence). When a driver
has several inputs it takes the *maximum* severity, never the sum, so one problem seen by two
instruments is not counted twice. A driver with no fresh input is "unknown": it is left out of R
and counted towards the "no recent data" state; it is never read as 0 (research c.2, Eckerd).

Pure module: no Django imports.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter
from statistics import fmean

from .config import DRIVER_CODES, Bands, RiskModelConfig, Text
from .inputs import AbsenceMonth, PlacementInputs, SdqReport, age_on

# Every driver takes `explain`: True (today's score) builds the evidence texts a person reads;
# False (the re-scored history cycles of the trend) computes the same status and severity from
# the same code and leaves the evidence empty. Only the texts differ, never the numbers
# (tests/risk/test_fast_path.py compares the two on generated data).

KNOWN = "known"
UNKNOWN = "unknown"
NOT_APPLICABLE = "not_applicable"

_INFORMANT = {
    "parent": Text("Carer SDQ", "Plejeforælders SDQ"),
    "teacher": Text("Teacher SDQ", "Lærers SDQ"),
    "self": Text("Child's own SDQ", "Barnets egen SDQ"),
}


@dataclass(frozen=True)
class DriverReading:
    """One driver on one day: its severity and the evidence a person can check it against."""

    code: str
    status: str  # KNOWN | UNKNOWN | NOT_APPLICABLE
    s: float | None
    evidence: tuple[Text, ...]


def band_value(bands: Bands, x: float) -> float:
    """The s of the last row whose `at_least` is <= x (tables start at 0 and never decrease)."""
    s = bands[0].s
    for band in bands:
        if x < band.at_least:
            break
        s = band.s
    return s


# --- Small formatting helpers for evidence texts (Danish uses a decimal comma) -------------------


def _num(x: float) -> tuple[str, str]:
    text = f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"
    return text, text.replace(".", ",")


def _sev(s: float) -> tuple[str, str]:
    text = f"{s:.2f}"
    return text, text.replace(".", ",")


def _text(en: str, da: str) -> Text:
    return Text(en, da)


# --- Windows -----------------------------------------------------------------------------------


def staleness_days(cadence_days: int, config: RiskModelConfig) -> int:
    return cadence_days * config.data.staleness_factor


def _within(on: date, day: date, days: int) -> bool:
    return day - timedelta(days=days) <= on <= day


_on = attrgetter("on")


def _count_within(days: Sequence[date], day: date, window: int) -> int:
    """How many of the sorted `days` satisfy `_within(d, day, window)`."""
    return bisect_right(days, day) - bisect_left(days, day - timedelta(days=window))


def between(records: Sequence, since: date, day: date) -> Sequence:
    """The records dated in [since, day], in their order; `records` must be sorted by `.on`.

    PlacementInputs keeps every sequence sorted by date, so a binary search replaces a scan of
    the whole history on each of the trend's cycles. Same records, same order, as
    `[r for r in records if since <= r.on <= day]`.
    """
    return records[bisect_left(records, since, key=_on):bisect_right(records, day, key=_on)]


def latest_sdq(inputs: PlacementInputs, informant: str, day: date, config: RiskModelConfig, *, with_impact: bool = False) -> SdqReport | None:
    """The newest fresh SDQ from one informant (reports are sorted by date)."""
    since = day - timedelta(days=staleness_days(config.data.sdq_cadence_days, config))
    for report in reversed(inputs.sdq):
        if report.informant != informant or not since <= report.on <= day:
            continue
        if with_impact and report.impact is None:
            continue
        return report
    return None


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def absence_quarter(inputs: PlacementInputs, day: date, config: RiskModelConfig, *, months_back: int = 0) -> tuple[AbsenceMonth, ...]:
    """The complete months of the rolling quarter before `day` (shifted back by `months_back`).

    A month counts once it has ended, so a re-scored past week sees only the months that were
    over by then. Months are weighted equally: the inputs carry percentages, not school days.
    """
    newest = _month_index(day) - 1 - months_back
    oldest = newest - config.data.absence_quarter_months + 1
    return tuple(m for m in inputs.absence if oldest <= _month_index(m.month) <= newest)


# --- The drivers -------------------------------------------------------------------------------


def behaviour(inputs: PlacementInputs, *, day: date, config: RiskModelConfig, explain: bool = True) -> DriverReading:
    """D1: the child's behaviour and emotional difficulties (SDQ carer/teacher, PDR-style count)."""
    tables = config.tables
    window = staleness_days(config.data.checkin_cadence_days, config)
    severities: list[float] = []
    evidence: list[Text] = []

    since = day - timedelta(days=window)
    recent = between(inputs.checkins, since, day)
    counted = [c for c in recent if c.problem_behaviours is not None]
    if counted:
        mean = fmean([c.problem_behaviours for c in counted])  # type: ignore[misc]
        s = band_value(tables.behaviour_count, mean)
        severities.append(s)
    if counted and explain:
        (m_en, m_da), (s_en, s_da) = _num(mean), _sev(s)
        evidence.append(_text(
            f"Problem behaviours: mean {m_en} a day over {len(counted)} check-in(s) in the last {window} days -> {s_en}",
            f"Problemadfærd: gennemsnitligt {m_da} om dagen i {len(counted)} check-in(s) de seneste {window} dage -> {s_da}",
        ))
    for informant, table in (("parent", tables.sdq_parent), ("teacher", tables.sdq_teacher)):
        report = latest_sdq(inputs, informant, day, config)
        if report is None:
            continue
        s = band_value(table, report.total)
        severities.append(s)
        if not explain:
            continue
        s_en, s_da = _sev(s)
        label = _INFORMANT[informant]
        evidence.append(_text(
            f"{label.en} total {report.total} on {report.on.isoformat()} -> {s_en}",
            f"{label.da}-total {report.total} den {report.on.isoformat()} -> {s_da}",
        ))
    if not explain:
        return _reading("behaviour", severities)
    conflicts = [c.conflicts for c in recent if c.conflicts is not None]
    if conflicts:
        evidence.append(_text(
            f"Also reported, not scored: {sum(conflicts)} conflict(s) at home in the last {window} days",
            f"Også indberettet, indgår ikke: {sum(conflicts)} konflikt(er) i hjemmet de seneste {window} dage",
        ))
    if not severities:
        sdq_window = staleness_days(config.data.sdq_cadence_days, config)
        return _unknown("behaviour", _text(
            f"No problem-behaviour count in the last {window} days and no carer or teacher SDQ in the last {sdq_window} days",
            f"Ingen optælling af problemadfærd de seneste {window} dage og ingen SDQ fra plejeforælder eller lærer de seneste {sdq_window} dage",
        ), evidence)
    return DriverReading("behaviour", KNOWN, max(severities), tuple(evidence))


def carer_strain(inputs: PlacementInputs, *, day: date, config: RiskModelConfig, explain: bool = True) -> DriverReading:
    """D2: foster-carer strain (check-in stress 0-10 standing in for PSS-10; SDQ impact)."""
    tables = config.tables
    window = staleness_days(config.data.checkin_cadence_days, config)
    severities: list[float] = []
    evidence: list[Text] = []

    since = day - timedelta(days=window)
    recent = between(inputs.checkins, since, day)
    if recent:
        # The mean over two weeks, like the PDR: one bad evening should move the pulse, not own it;
        # an acute crisis reaches red through "help now" instead.
        mean = fmean([c.stress for c in recent])
        s = band_value(tables.carer_stress, mean)
        severities.append(s)
    if recent and explain:
        (m_en, m_da), (s_en, s_da) = _num(mean), _sev(s)
        evidence.append(_text(
            f"Carer stress: mean {m_en}/10 over {len(recent)} check-in(s) in the last {window} days -> {s_en}",
            f"Plejeforældres stress: gennemsnitligt {m_da}/10 i {len(recent)} check-in(s) de seneste {window} dage -> {s_da}",
        ))
        sleep = [c.sleep for c in recent if c.sleep is not None]
        if sleep:
            sl_en, sl_da = _num(fmean(sleep))
            evidence.append(_text(
                f"Also reported, not scored: carers' sleep {sl_en}/5 on average",
                f"Også indberettet, indgår ikke: plejeforældrenes søvn i gennemsnit {sl_da}/5",
            ))
    report = latest_sdq(inputs, "parent", day, config, with_impact=True)
    if report is not None:
        s = band_value(tables.sdq_impact_parent, report.impact)  # type: ignore[arg-type]
        severities.append(s)
    if not explain:
        return _reading("carer_strain", severities)
    if report is not None:
        s_en, s_da = _sev(severities[-1])
        evidence.append(_text(
            f"Carer SDQ impact {report.impact} on {report.on.isoformat()} -> {s_en}",
            f"Plejeforælders SDQ-belastningsscore {report.impact} den {report.on.isoformat()} -> {s_da}",
        ))
    if not severities:
        return _unknown("carer_strain", _text(
            f"No check-in in the last {window} days and no carer SDQ impact score",
            f"Ingen check-in de seneste {window} dage og ingen SDQ-belastningsscore fra plejeforælder",
        ), evidence)
    return DriverReading("carer_strain", KNOWN, max(severities), tuple(evidence))


def school(inputs: PlacementInputs, *, day: date, config: RiskModelConfig, explain: bool = True) -> DriverReading:
    """D3: school absence over the rolling quarter (all absence; unlawful absence sets a floor)."""
    if not inputs.attends_school:
        return DriverReading("school", NOT_APPLICABLE, None, () if not explain else (_text(
            "Not in school: this driver does not apply", "Går ikke i skole: driveren indgår ikke"),))
    tables = config.tables
    months = absence_quarter(inputs, day, config)
    stale_before = _month_index(day) - config.data.absence_cadence_months * config.data.staleness_factor
    if not months or _month_index(months[-1].month) < stale_before:
        if not explain:
            return _reading("school", ())
        return _unknown("school", _text(
            "No school absence reported for the last complete months",
            "Intet skolefravær indberettet for de seneste hele måneder",
        ))
    total = fmean([m.total_pct for m in months])
    unlawful = fmean([m.unlawful_pct for m in months])
    s = band_value(tables.absence_total, total)
    floor_note = ("", "")
    if unlawful >= tables.unlawful_absence_floor_from and s < tables.unlawful_absence_floor_s:
        s = tables.unlawful_absence_floor_s
        if not explain:
            return _reading("school", (s,))
        floor_note = (" (raised: unlawful absence at the school's warning level)",
                      " (hævet: ulovligt fravær på skolens advarselsniveau)")
    if not explain:
        return _reading("school", (s,))
    span = f"{months[0].month:%Y-%m}..{months[-1].month:%Y-%m}"
    (t_en, t_da), (u_en, u_da), (s_en, s_da) = _num(total), _num(unlawful), _sev(s)
    return DriverReading("school", KNOWN, s, (_text(
        f"School absence {t_en}% (unlawful {u_en}%) over {span} -> {s_en}{floor_note[0]}",
        f"Skolefravær {t_da} % (ulovligt {u_da} %) i {span} -> {s_da}{floor_note[1]}",
    ),))


def commitment(inputs: PlacementInputs, *, day: date, config: RiskModelConfig, explain: bool = True) -> DriverReading:
    """D4: the carers' confidence that they can continue for six months (lower is worse)."""
    window = staleness_days(config.data.checkin_cadence_days, config)
    since = day - timedelta(days=window)
    answers = [c.commitment for c in between(inputs.checkins, since, day) if c.commitment is not None]
    if not answers and not explain:
        return _reading("commitment", ())
    if not answers:
        return _unknown("commitment", _text(
            f"No commitment answer in the last {window} days",
            f"Intet svar om at kunne fortsætte de seneste {window} dage",
        ))
    mean = fmean(answers)
    s = 1.0 if mean <= config.tables.commitment_full_at_or_below else (10 - mean) / 10
    if not explain:
        return _reading("commitment", (s,))
    (m_en, m_da), (s_en, s_da) = _num(mean), _sev(s)
    return DriverReading("commitment", KNOWN, s, (_text(
        f"Carer commitment: mean {m_en}/10 over {len(answers)} check-in(s) -> {s_en}",
        f"Plejefamiliens tiltro til at fortsætte: gennemsnitligt {m_da}/10 i {len(answers)} check-in(s) -> {s_da}",
    ),))


def child_view(inputs: PlacementInputs, *, day: date, config: RiskModelConfig, explain: bool = True) -> DriverReading:
    """D5: the child's own view: well-being 1-5 and, from 11, the self-report SDQ."""
    min_age = config.data.child_view_min_age
    if age_on(inputs.birth_date, day) < min_age:
        return DriverReading("child_view", NOT_APPLICABLE, None, () if not explain else (_text(
            f"Child younger than {min_age}: this driver does not apply",
            f"Barnet er under {min_age} år: driveren indgår ikke"),))
    window = staleness_days(config.data.child_view_cadence_days, config)
    severities: list[float] = []
    evidence: list[Text] = []
    since = day - timedelta(days=window)
    views = between(inputs.child_views, since, day)
    if views:
        # The child's latest answer, not a mean: children answer rarely and each answer is theirs.
        latest = views[-1]
        s = (5 - latest.wellbeing) / 4
        severities.append(s)
    if views and explain:
        s_en, s_da = _sev(s)
        evidence.append(_text(
            f"Child's own well-being {latest.wellbeing}/5 on {latest.on.isoformat()} -> {s_en}",
            f"Barnets egen trivsel {latest.wellbeing}/5 den {latest.on.isoformat()} -> {s_da}",
        ))
    report = latest_sdq(inputs, "self", day, config)
    if report is not None:
        s = band_value(config.tables.sdq_self, report.total)
        severities.append(s)
    if not explain:
        return _reading("child_view", severities)
    if report is not None:
        s_en, s_da = _sev(severities[-1])
        evidence.append(_text(
            f"Child's own SDQ total {report.total} on {report.on.isoformat()} -> {s_en}",
            f"Barnets egen SDQ-total {report.total} den {report.on.isoformat()} -> {s_da}",
        ))
    if not severities:
        return _unknown("child_view", _text(
            f"The child's own view has not been recorded in the last {window} days",
            f"Barnets egen oplevelse er ikke registreret de seneste {window} dage",
        ))
    return DriverReading("child_view", KNOWN, max(severities), tuple(evidence))


_STRESSOR_TEXT = {
    "consultant_change": Text("consultant changed in the last 6 months", "skift af konsulent inden for 6 måneder"),
    "birth_family_conflict": Text("unresolved conflict with the birth family", "uløst konflikt med forældrene"),
    "supervision_overdue": Text("supervision overdue against the plan", "supervision forsinket i forhold til planen"),
    "fee_renegotiation": Text("fee (vederlag) renegotiation open", "genforhandling af vederlag i gang"),
    "missed_sessions": Text("support sessions missed or cancelled recently", "støttesessioner aflyst eller udeblevet for nylig"),
    "unmet_need": Text("a support need has waited too long", "et støttebehov har ventet for længe"),
}


def system_stressors(inputs: PlacementInputs, *, day: date, config: RiskModelConfig) -> tuple[str, ...]:
    """The codes of the system and relational stressors present on `day` (research D6)."""
    sig, cfg = inputs.system, config.system
    found: list[str] = []
    # Both date tuples are sorted (SystemSignals), so a binary search counts those in the window.
    if _count_within(sig.consultant_changes, day, cfg.consultant_change_window_days):
        found.append("consultant_change")
    if _any_open(sig.birth_family_conflicts, day):
        found.append("birth_family_conflict")
    if _any_open(sig.supervision_overdue, day):
        found.append("supervision_overdue")
    if _any_open(sig.fee_renegotiations, day):
        found.append("fee_renegotiation")
    missed = _count_within(sig.missed_sessions, day, cfg.missed_sessions_window_days)
    if cfg.missed_sessions_min and missed >= cfg.missed_sessions_min:
        found.append("missed_sessions")
    waited_since = day - timedelta(days=cfg.unmet_need_wait_days)
    if any(p.open_on(day) and p.start <= waited_since for p in sig.unmet_needs):
        found.append("unmet_need")
    return tuple(found)


def system(inputs: PlacementInputs, *, day: date, config: RiskModelConfig, explain: bool = True) -> DriverReading:
    """D6: stressors around the placement. Recorded by the system itself, so always known."""
    found = system_stressors(inputs, day=day, config=config)
    s = band_value(config.tables.system_stressors, len(found))
    if not explain:
        return DriverReading("system", KNOWN, s, ())
    s_en, s_da = _sev(s)
    if not found:
        return DriverReading("system", KNOWN, s, (_text("No open system stressors -> 0.00", "Ingen åbne belastninger -> 0,00"),))
    names = [_STRESSOR_TEXT[code] for code in found]
    return DriverReading("system", KNOWN, s, (_text(
        f"{len(found)} stressor(s): {'; '.join(n.en for n in names)} -> {s_en}",
        f"{len(found)} belastning(er): {'; '.join(n.da for n in names)} -> {s_da}",
    ),))


DRIVER_FUNCTIONS = {
    "behaviour": behaviour,
    "carer_strain": carer_strain,
    "school": school,
    "commitment": commitment,
    "child_view": child_view,
    "system": system,
}
assert tuple(DRIVER_FUNCTIONS) == DRIVER_CODES


def read_drivers(inputs: PlacementInputs, *, day: date, config: RiskModelConfig,
                 explain: bool = True) -> tuple[DriverReading, ...]:
    """All six drivers on `day`, in the published order; `explain=False` leaves out the evidence."""
    return tuple(DRIVER_FUNCTIONS[code](inputs, day=day, config=config, explain=explain) for code in DRIVER_CODES)


def _any_open(periods: Iterable, day: date) -> bool:
    return any(p.open_on(day) for p in periods)


def _unknown(code: str, why: Text, evidence: Iterable[Text] = ()) -> DriverReading:
    return DriverReading(code, UNKNOWN, None, (why, *evidence))


def _reading(code: str, severities: Sequence[float]) -> DriverReading:
    """Without evidence: known at the largest severity, or unknown when there is none."""
    if not severities:
        return DriverReading(code, UNKNOWN, None, ())
    return DriverReading(code, KNOWN, max(severities), ())
