"""Suggested support, mapped from the drivers and events of a score (research c.6).

Each recommendation carries what a support need needs (service code, recipient, competences,
priority) plus the drivers or events that triggered it, so a consultant can turn it into a need
with one click, or dismiss it. These are suggestions: nothing here is acted on automatically.

Competences are derived only from what was observed (incidents, absence) and, as a *preferred*
competence, from documented maltreatment. No diagnosis of anyone is an input; a consultant adds
competences from the child's plan when creating the need.

Pure module: no Django imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import fmean

from .config import DEFAULT_CONFIG, RiskModelConfig, Text
from .drivers import KNOWN, absence_quarter
from .inputs import PlacementInputs, birthday
from .scoring import RED, RiskScore

SERVICE_CODES = ("supervision", "respite", "home_guidance", "family_therapy", "substance_treatment", "psychologist")
MEETING = "meeting"
MEETING_KINDS = ("school_cooperation", "aftercare_planning")
RECIPIENTS = ("foster_household", "birth_household", "child")
COMPETENCE_CODES = (
    "trauma", "sexual_abuse", "adhd", "autism", "attachment",
    "self_harm", "school_refusal", "substance_abuse", "eating_disorder", "violence",
)

HIGH = 0.67  # "high" severity: the .67 band, as in the research's jump rule


@dataclass(frozen=True)
class Recommendation:
    code: str  # the rule that produced it, stable for audit and tests
    service: str  # one of SERVICE_CODES, or MEETING
    meeting_kind: str | None  # one of MEETING_KINDS when service == MEETING
    recipient: str  # one of RECIPIENTS
    required_competences: tuple[str, ...]
    preferred_competences: tuple[str, ...]
    priority: int  # 1 (routine) .. 5 (acute risk of breakdown), as in the matching spec
    triggers: tuple[str, ...]  # driver codes, "incident:<kind>", "stressor:<code>" or "age"
    label: Text
    reason: Text


def recommend(score: RiskScore, inputs: PlacementInputs, *, today: date,
              config: RiskModelConfig = DEFAULT_CONFIG) -> list[Recommendation]:
    """Suggestions for one scored placement, most urgent first."""
    if score.config_version != config.version:
        raise ValueError(f"score was made with model {score.config_version}, not {config.version}")
    if score.placement_id != inputs.placement_id:
        raise ValueError("score and inputs belong to different placements")
    rc = config.recommendations
    red = score.level == RED
    s = {d.code: d.s for d in score.drivers if d.status == KNOWN}
    recent_incidents = {
        i.kind for i in inputs.incidents if today - timedelta(days=rc.incident_window_days) <= i.on <= today
    }
    trauma_preferred = ("trauma",) if inputs.baseline.documented_maltreatment else ()
    out: list[Recommendation] = []

    # High carer strain and no respite lately: respite relieves the carers (research c.6, D2).
    strain = s.get("carer_strain")
    if strain is not None and strain >= HIGH:
        last = max((d for d in inputs.system.respite_days if d <= today), default=None)
        if last is None or (today - last).days > rc.respite_gap_days:
            since = Text("no respite recorded", "ingen aflastning registreret") if last is None else Text(
                f"last respite {last.isoformat()}", f"seneste aflastning {last.isoformat()}")
            st_en, st_da = _num(strain, 2)
            out.append(Recommendation(
                code="respite_for_carer_strain", service="respite", meeting_kind=None,
                recipient="foster_household", required_competences=(), preferred_competences=(),
                priority=_bump(3, red), triggers=("carer_strain",),
                label=Text("Respite for the foster family", "Aflastning (støtteophold) til plejefamilien"),
                reason=Text(f"High carer strain ({st_en}) and {since.en}",
                            f"Høj belastning hos plejeforældrene ({st_da}) og {since.da}"),
            ))

    # Self-harm: a psychologist for the child who knows self-harm (VIVE 2020 risk behaviour).
    if "self_harm" in recent_incidents:
        acute = any(e.kind == "self_harm" for e in score.acute_events)
        out.append(Recommendation(
            code="psychologist_for_self_harm", service="psychologist", meeting_kind=None,
            recipient="child", required_competences=("self_harm",), preferred_competences=trauma_preferred,
            priority=5 if acute else 4, triggers=("incident:self_harm",),
            label=Text("Psychologist for the child (self-harm)", "Psykolog til barnet (selvskade)"),
            reason=Text(f"Self-harm recorded in the last {rc.incident_window_days} days",
                        f"Selvskade registreret de seneste {rc.incident_window_days} dage"),
        ))

    # Rising or high school absence: a school cooperation meeting (skolesamarbejde, PPR).
    school = _school_absence_signal(inputs, today, config, s.get("school"))
    if school is not None:
        severe, text = school
        out.append(Recommendation(
            code="school_cooperation_meeting", service=MEETING, meeting_kind="school_cooperation",
            recipient="child", required_competences=("school_refusal",) if severe else (),
            preferred_competences=(), priority=_bump(3 if severe else 2, red), triggers=("school",),
            label=Text("School cooperation meeting", "Skolesamarbejdsmøde"),
            reason=text,
        ))

    # Carer strain together with complex behaviour: specialised supervision for the carers.
    behaviour = s.get("behaviour")
    if strain is not None and behaviour is not None and strain >= HIGH and behaviour >= HIGH:
        required = tuple(sorted(
            {"self_harm"} & recent_incidents
            | ({"violence"} if recent_incidents & {"violence", "police_contact"} else set())
        ))
        (st_en, st_da), (b_en, b_da) = _num(strain, 2), _num(behaviour, 2)
        out.append(Recommendation(
            code="specialised_supervision", service="supervision", meeting_kind=None,
            recipient="foster_household", required_competences=required,
            preferred_competences=trauma_preferred, priority=_bump(3, red),
            triggers=("carer_strain", "behaviour"),
            label=Text("Specialised supervision for the foster carers", "Specialiseret supervision til plejeforældrene"),
            reason=Text(f"High carer strain ({st_en}) with complex behaviour ({b_en})",
                        f"Høj belastning hos plejeforældrene ({st_da}) og kompleks adfærd ({b_da})"),
        ))

    # Birth-family conflict: home guidance for the birth parents; family therapy once entrenched.
    open_conflicts = [p for p in inputs.system.birth_family_conflicts if p.open_on(today)]
    if open_conflicts:
        since = min(p.start for p in open_conflicts)
        entrenched = (today - since).days >= rc.conflict_escalate_days
        service, label = ("family_therapy", Text("Family therapy with the birth family", "Familiebehandling med forældrene")) \
            if entrenched else ("home_guidance", Text("Home guidance for the birth parents", "Hjemmevejledning til forældrene"))
        out.append(Recommendation(
            code=f"birth_family_conflict_{service}", service=service, meeting_kind=None,
            recipient="birth_household", required_competences=(), preferred_competences=(),
            priority=_bump(3 if entrenched else 2, red), triggers=("system", "stressor:birth_family_conflict"),
            label=label,
            reason=Text(f"Unresolved conflict with the birth family since {since.isoformat()}",
                        f"Uløst konflikt med forældrene siden {since.isoformat()}"),
        ))

    # Approaching 18: aftercare planning (ungestøtte must be decided 6 months before, Barnets lov § 111).
    eighteen = birthday(inputs.birth_date, 18)
    if today < eighteen <= _add_months(today, rc.aftercare_months):
        urgent = eighteen <= _add_months(today, rc.aftercare_urgent_months)
        out.append(Recommendation(
            code="aftercare_planning", service=MEETING, meeting_kind="aftercare_planning",
            recipient="child", required_competences=(), preferred_competences=(),
            priority=4 if urgent else 2, triggers=("age",),
            label=Text("Aftercare planning before 18 (ungestøtte)", "Planlægning af ungestøtte før 18 år"),
            reason=Text(f"Turns 18 on {eighteen.isoformat()}" + ("; the decision on ungestøtte is due now" if urgent else ""),
                        f"Fylder 18 den {eighteen.isoformat()}" + ("; afgørelsen om ungestøtte skal træffes nu" if urgent else "")),
        ))

    return sorted(out, key=lambda rec: -rec.priority)


def _num(x: float, digits: int) -> tuple[str, str]:
    """A number in English and Danish notation (decimal comma)."""
    text = f"{x:.{digits}f}"
    return text, text.replace(".", ",")


def _bump(priority: int, red: bool) -> int:
    """One step more urgent when the placement is red, never above 5."""
    return min(5, priority + 1) if red else priority


def _school_absence_signal(inputs: PlacementInputs, today: date, config: RiskModelConfig,
                           s_school: float | None) -> tuple[bool, Text] | None:
    """(severe, reason) when absence is high (>= .67) or has risen quarter on quarter; else None."""
    if s_school is None:
        return None
    now = absence_quarter(inputs, today, config)
    before = absence_quarter(inputs, today, config, months_back=config.data.absence_quarter_months)
    if not now:
        return None
    mean_now = fmean(m.total_pct for m in now)
    severe = s_school >= HIGH
    rise = mean_now - fmean(m.total_pct for m in before) if before else None
    rising = (rise is not None and rise >= config.recommendations.absence_rise_points
              and s_school > 0)
    if not (severe or rising):
        return None
    m_en, m_da = _num(mean_now, 1)
    en, da = f"School absence {m_en}% over the last quarter", f"Skolefravær {m_da} % i seneste kvartal"
    if rising:
        r_en, r_da = _num(rise, 1)  # type: ignore[arg-type]
        en, da = f"{en}, up {r_en} points on the quarter before", f"{da}, {r_da} point højere end kvartalet før"
    return severe, Text(en, da)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover
