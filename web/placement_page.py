"""A placement's page for staff: its level, a timeline (signals, sessions, decisions, alerts in date
order), server-rendered SVG charts of the index and its indicators, and forms to record SDQ, school
absence and incidents. Part of the well-being pages (web/wellbeing_pages.py); the writes go
through support.wellbeing.signals.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from scheduler.models import SessionOccurrence
from support.errors import DomainError
from support.models import (
    Alert,
    CheckIn,
    ChildView,
    FollowUpCadence,
    Incident,
    IncidentKind,
    Level,
    Milestone,
    MilestoneStatus,
    Placement,
    RiskScore,
    SchoolAbsence,
    ScoreAssessment,
    SdqScore,
    SupportNeed,
)
from support.wellbeing import signals
from support.wellbeing.dates import add_months, first_of_month
from support.wellbeing.milestones import LEDGER_RULES, complete_milestone
from support.wellbeing.rules import FOLLOW_UP
from web import charts
from web.access import case_municipalities
from web.display import local_name, plain_number
from web.wellbeing_forms import SIGNAL_FORMS, AbsenceForm, IncidentForm, MilestoneDoneForm, SdqForm
from web.wellbeing_pages import SESSIONS_AHEAD, level_badge, placement_rows, rounded, text

TIMELINE_DAYS = 365
CHART_DAYS = 365


def _short_day(day: dt.date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


# --- Staff: a placement's timeline and charts --------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: str  # signal | session | decision | alert
    kind_label: str
    title: str
    detail: str = ""
    url: str = ""


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def timeline_events(user, placement: Placement, *, now: dt.datetime) -> list[Event]:
    """Signals, sessions, decisions and alerts of one placement, newest first (one query per kind)."""
    since = timezone.localdate(now) - dt.timedelta(days=TIMELINE_DAYS)
    signal, session, decision, alert = _("Signal"), _("Session"), _("Decision"), _("Alert")
    events: list[Event] = []
    for c in CheckIn.objects.for_user(user).filter(placement=placement, on__gte=since):
        parts = [_("stress %(n)s of 10") % {"n": c.stress}]
        if c.sleep is not None:
            parts.append(_("sleep %(n)s of 5") % {"n": c.sleep})
        if c.conflicts is not None:
            parts.append(_("%(n)s conflicts") % {"n": c.conflicts})
        title = _("Check-in: we need help now") if c.help_now else _("Check-in")
        events.append(Event(_at(c.on), "signal", signal, title, ", ".join(parts) + (f". {c.free_text}" if c.free_text else "")))
    for s in SdqScore.objects.for_user(user).filter(placement=placement, on__gte=since):
        events.append(Event(_at(s.on), "signal", signal, _("SDQ (%(who)s)") % {"who": s.get_informant_display()},
                            _("total %(n)s of 40") % {"n": s.total}))
    for a in SchoolAbsence.objects.for_user(user).filter(placement=placement, month__gte=first_of_month(since)):
        events.append(Event(_at(a.month), "signal", signal,
                            _("School absence %(month)s") % {"month": date_format(a.month, "YEAR_MONTH_FORMAT")},
                            _("%(total)s %% in all, %(unlawful)s %% unlawful") % {
                                "total": plain_number(a.total_pct), "unlawful": plain_number(a.unlawful_pct)}))
    for i in Incident.objects.for_user(user).filter(placement=placement, on__gte=since):
        events.append(Event(_at(i.on), "signal", signal, _("Incident: %(kind)s") % {"kind": i.get_kind_display()},
                            i.note))
    for v in ChildView.objects.for_user(user).filter(placement=placement, on__gte=since):
        events.append(Event(_at(v.on), "signal", signal, _("The child's own view"),
                            _("%(n)s of 5") % {"n": v.wellbeing} + (f". {v.comment}" if v.comment else "")))
    for occ in (SessionOccurrence.objects.for_user(user).filter(series__need__placement=placement,
                                                               start__gte=_at(since), start__lt=now + SESSIONS_AHEAD)
                .select_related("series__need__service", "series__provider")):
        events.append(Event(occ.start, "session", session, local_name(occ.series.need.service),
                            f"{occ.series.provider.name} · {occ.get_status_display()}"))
    for need in (SupportNeed.objects.for_user(user).filter(placement=placement, created_at__gte=_at(since))
                 .select_related("service")):
        events.append(Event(need.created_at, "decision", decision,
                            _("Support need: %(service)s") % {"service": local_name(need.service)},
                            f"{need.get_status_display()} · {need.get_origin_display()}"))
    for assessment in (ScoreAssessment.objects.for_user(user).filter(placement=placement, created_at__gte=_at(since))
                       .select_related("score", "assessed_by")):
        title = (_("Agreed with the level %(level)s") if assessment.decision == "agree"
                 else _("Overrode the level %(level)s")) % {"level": level_badge(assessment.score.level)["label"]}
        events.append(Event(assessment.created_at, "decision", decision, title, assessment.reason))
    for a in Alert.objects.for_user(user).filter(placement=placement, created_at__gte=_at(since)):
        detail = a.get_status_display()
        if a.outcome:
            detail += f" · {a.get_outcome_display()}"
        events.append(Event(a.created_at, "alert", alert, a.get_kind_display(), detail,
                            reverse("web:alert", kwargs={"alert_id": a.pk})))
    events.sort(key=lambda e: e.at, reverse=True)
    return events


def placement_charts(user, placement: Placement, *, now: dt.datetime) -> list[charts.Chart]:
    """The index and three indicators over the last year, as SVG charts with a table each."""
    today = timezone.localdate(now)
    since = today - dt.timedelta(days=CHART_DAYS)
    out = []

    # The index: the last computation of each week; its level as marker shape and word.
    weekly: dict[tuple[int, int], RiskScore] = {}
    for score in (RiskScore.objects.for_user(user).filter(placement=placement, as_of__gte=since)
                  .order_by("as_of", "computed_at").only("as_of", "index", "level", "detail")):
        weekly[score.as_of.isocalendar()[:2]] = score
    scores = list(weekly.values())
    data, gaps = [], []
    for s in scores:
        label = str(level_badge(s.level)["label"])
        if s.index is None:
            gaps.append((_short_day(s.as_of), label))
        else:
            data.append(charts.Datum(s.as_of, s.index, f"{rounded(s.index, 1)} · {label}", s.level))
    thresholds = (scores[-1].detail.get("thresholds") or {}) if scores else {}
    rules = [(thresholds[k], _("%(level)s from %(n)s") % {"level": level_badge(k)["label"],
                                                          "n": rounded(thresholds[k], 1)}, k)
             for k in ("yellow", "red") if isinstance(thresholds.get(k), int | float)]
    chart = charts.build_chart(
        chart_id="chart-risk", title=_("Support-need index over time"),
        description=_("The support-need index from 0 to 100 (not a probability), one point a week; the marker "
                      "shape shows the level: circle green, triangle yellow, square red, diamond no recent data."),
        y_label=_("Index 0–100"), data=data, day_label=_short_day, y_max=100, rules=rules,
        shapes={"green": "circle", "yellow": "triangle", "red": "square", "no_data": "diamond"},
        legend=[(code, level_badge(code)["label"]) for code in ("green", "yellow", "red", "no_data")],
    )
    chart.rows += gaps
    out.append(chart)

    checkins = CheckIn.objects.for_user(user).filter(placement=placement, on__gte=since).order_by("on")
    out.append(charts.build_chart(
        chart_id="chart-stress", title=_("Foster carers' stress"),
        description=_("Stress 0–10 from each weekly check-in; a triangle marks a check-in with \"we need help now\"."),
        y_label=_("Stress 0–10"), y_max=10, day_label=_short_day,
        data=[charts.Datum(c.on, c.stress, (_("%(n)s of 10, help now") if c.help_now else _("%(n)s of 10"))
                           % {"n": c.stress}, "help_now" if c.help_now else "checkin") for c in checkins],
        shapes={"checkin": "circle", "help_now": "triangle"},
        legend=[("checkin", _("Check-in")), ("help_now", _("We need help now"))],
    ))

    absences = SchoolAbsence.objects.for_user(user).filter(placement=placement, month__gte=first_of_month(since))
    out.append(charts.build_chart(
        chart_id="chart-absence", title=_("School absence per month"),
        description=_("Total school absence in percent of the month's school days; lines at 10 and 15 percent."),
        y_label=_("Absence %"), day_label=lambda d: date_format(d, "YEAR_MONTH_FORMAT"),
        data=[charts.Datum(a.month, float(a.total_pct),
                           _("%(total)s %% (unlawful %(unlawful)s %%)") % {"total": plain_number(a.total_pct),
                                                                          "unlawful": plain_number(a.unlawful_pct)},
                           "absence") for a in absences],
        shapes={"absence": "square"}, rules=[(10, "10 %", "yellow"), (15, "15 %", "red")],
    ))

    first = add_months(first_of_month(today), -11)
    months = [add_months(first, k) for k in range(12)]
    counts = defaultdict(int)
    for on in Incident.objects.for_user(user).filter(placement=placement, on__gte=first).values_list("on", flat=True):
        counts[first_of_month(on)] += 1
    out.append(charts.build_chart(
        chart_id="chart-incidents", title=_("Incidents per month"),
        description=_("The number of recorded incidents (self-harm, running away, violence, police, hospital, "
                      "placement threatened) in each of the last 12 months."),
        y_label=_("Incidents"), day_label=lambda d: date_format(d, "YEAR_MONTH_FORMAT"), bars=True,
        y_max=max(4, max(counts.values(), default=0)),
        data=[charts.Datum(m, counts[m], str(counts[m]), "incident") for m in months],
        shapes={"incident": "cross"},
    ))
    return out


def _placement_for(request, placement_id: int) -> Placement:
    municipalities = case_municipalities(request.user)
    return get_object_or_404(
        Placement.objects.for_user(request.user).filter(municipality__in=municipalities)
        .select_related("child", "foster_household", "consultant", "municipality"),
        pk=placement_id,
    )


def _milestone_rows(user, placement: Placement, *, failed) -> list[dict]:
    """The placement's pending statutory deadlines, overdue first, each with its "mark done" form."""
    english = (get_language() or "da").startswith("en")
    has_cadence = FollowUpCadence.objects.filter(placement=placement).exists()
    rows = []
    for m in Milestone.objects.for_user(user).pending().filter(placement=placement).order_by("due_on", "pk"):
        key = f"milestone-{m.pk}"
        asks = m.rule_code == FOLLOW_UP and m.sequence == 1 and not has_cadence
        form = failed[1] if failed and failed[0] == key else MilestoneDoneForm(prefix=key, asks_cadence=asks)
        rows.append({
            "milestone": m, "title": m.title_en if english else m.title_da, "key": key, "form": form,
            "overdue": m.status == MilestoneStatus.OVERDUE, "ledger": m.rule_code in LEDGER_RULES,
            "open": bool(failed and failed[0] == key),
        })
    return rows


def _render_placement(request, placement: Placement, *, failed: tuple[str, object] | None = None, status: int = 200):
    now = timezone.now()
    today = timezone.localdate(now)
    rows = placement_rows(request.user, [placement], now=now)
    forms = {
        "sdq": SdqForm(prefix="sdq", initial={"on": today}),
        "absence": AbsenceForm(prefix="absence", initial={"month": first_of_month(today), "unlawful_pct": 0}),
        "incident": IncidentForm(prefix="incident", initial={"on": today}),
    }
    if failed and failed[0] in forms:
        forms[failed[0]] = failed[1]
    score = rows[0].score
    return render(request, "wellbeing/placement.html", {
        "milestones": _milestone_rows(request.user, placement, failed=failed),
        "placement": placement, "row": rows[0], "score": score,
        "reasons": [{"level": r.get("level"), "text": text(r.get("text"))} for r in (score.reasons if score else [])],
        "charts": placement_charts(request.user, placement, now=now),
        "events": timeline_events(request.user, placement, now=now),
        "forms": forms, "failed": failed[0] if failed else "",
        "is_active": placement.is_active, "incident_kinds": IncidentKind.choices,
        "open_alerts": Alert.objects.for_user(request.user).open().filter(placement=placement),
        "level_choices": Level.choices,
    }, status=status)


@never_cache
@login_required
@require_GET
def placement_detail(request, placement_id: int):
    return _render_placement(request, _placement_for(request, placement_id))


@never_cache
@login_required
@require_POST
def record_signal(request, placement_id: int, kind: str):
    """SDQ, school absence or an incident, recorded by staff from the placement page."""
    placement = _placement_for(request, placement_id)
    form = SIGNAL_FORMS[kind](request.POST, prefix=kind)
    if not form.is_valid():
        return _render_placement(request, placement, failed=(kind, form), status=400)
    data, now = form.cleaned_data, timezone.now()
    try:
        if kind == "sdq":
            signals.record_sdq(placement=placement, by=request.user, on=data["on"], informant=data["informant"],
                               total=data["total"], impact=data["impact"], now=now)
        elif kind == "absence":
            signals.record_school_absence(placement=placement, by=request.user, month=data["month"],
                                          total_pct=data["total_pct"], unlawful_pct=data["unlawful_pct"], now=now)
        else:
            signals.record_incident(placement=placement, by=request.user, on=data["on"], kind=data["kind"],
                                    note=data["note"], now=now)
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_placement(request, placement, failed=(kind, form), status=exc.status)
    messages.success(request, _("Recorded. The index is recomputed in a moment."))
    return redirect(reverse("web:placement", kwargs={"placement_id": placement.pk}) + "#record")


@never_cache
@login_required
@require_POST
def milestone_done(request, placement_id: int, milestone_id: int):
    """Mark a statutory deadline met (support.wellbeing.milestones.complete_milestone)."""
    placement = _placement_for(request, placement_id)
    milestone = get_object_or_404(Milestone.objects.for_user(request.user).filter(placement=placement),
                                  pk=milestone_id)
    key = f"milestone-{milestone.pk}"
    asks = (milestone.rule_code == FOLLOW_UP and milestone.sequence == 1
            and not FollowUpCadence.objects.filter(placement=placement).exists())
    form = MilestoneDoneForm(request.POST, prefix=key, asks_cadence=asks)
    if not form.is_valid():
        return _render_placement(request, placement, failed=(key, form), status=400)
    data = form.cleaned_data
    try:
        complete_milestone(milestone=milestone, by=request.user, now=timezone.now(), note=data["note"],
                           cadence_months=data.get("cadence_months"),
                           cadence_justification=data.get("cadence_justification") or "")
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_placement(request, placement, failed=(key, form), status=exc.status)
    messages.success(request, _("The deadline is marked as met."))
    return redirect(reverse("web:placement", kwargs={"placement_id": placement.pk}) + "#deadlines")


urlpatterns = [
    path("workspace/placements/<int:placement_id>/", placement_detail, name="placement"),
    *[path(f"workspace/placements/<int:placement_id>/record/{kind}/", record_signal, {"kind": kind},
           name=f"record-{kind}") for kind in SIGNAL_FORMS],
    path("workspace/placements/<int:placement_id>/deadlines/<int:milestone_id>/done/", milestone_done,
         name="milestone-done"),
]
