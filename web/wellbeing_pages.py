"""Pages for well-being signals, the support-need index and alerts (issues #6 and #8).

Families: the weekly check-in and "we need help now" (on the portal), and the goals they agreed
to. Staff: "my placements" by level and trend, the alerts inbox and an alert's page (the page
alert emails link to). A placement's timeline with charts is in web/placement_page.py.

Views stay thin: they read through `for_user` querysets and write through the services in
`support.wellbeing`; the rules (who may record what, ranges, de-duplication) live there. The index
is shown as a level with its drivers and reasons, never as a probability. A placement without
recent data has its own state and is never shown as green.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scheduler.models import SessionOccurrence
from support.errors import DomainError
from support.models import (
    LEVEL_RANK,
    Alert,
    AlertKind,
    AlertStatus,
    AlertSupportNeed,
    CheckIn,
    Goal,
    GoalStatus,
    NeedStatus,
    Placement,
    RiskScore,
    ScoreAssessment,
    SupportNeed,
)
from support.roles import scope_for
from support.wellbeing import alerts as alert_services
from support.wellbeing import signals
from support.wellbeing.goals import goal_progress
from web.access import case_municipalities
from web.display import local_name, plain_number
from web.wellbeing_forms import (
    AcknowledgeForm,
    AssessmentForm,
    CheckInForm,
    HelpNowForm,
    NeedFromRecommendationForm,
)

SESSIONS_AHEAD = dt.timedelta(weeks=4)

# How a level reads: a word and a symbol as well as a colour, so it never rests on colour alone.
LEVELS = {
    "red": (gettext_lazy("Red"), "!!"),
    "yellow": (gettext_lazy("Yellow"), "!"),
    "green": (gettext_lazy("Green"), "✓"),
    "no_data": (gettext_lazy("No recent data"), "?"),
}
TRENDS = {
    "rising": ("↑", gettext_lazy("rising")),
    "falling": ("↓", gettext_lazy("falling")),
    "steady": ("→", gettext_lazy("steady")),
}
GOAL_STATES = {
    "achieved": gettext_lazy("Achieved"),
    "improving": gettext_lazy("Improving"),
    "no_change": gettext_lazy("No change yet"),
    "worse": gettext_lazy("Worse than at the start"),
    "no_data": gettext_lazy("No measurement yet"),
}


def text(value) -> str:
    """A {"en": ..., "da": ...} text from the risk core in the active language."""
    if isinstance(value, dict):
        lang = "en" if (get_language() or "da").startswith("en") else "da"
        return value.get(lang) or value.get("da") or value.get("en") or ""
    return str(value or "")


def rounded(value: float, digits: int = 1) -> str:
    """35.0 -> '35', 8.25 -> '8,3' in Danish: one decimal where it says something, none where it does not."""
    return plain_number(Decimal(str(round(value, digits))))


def level_badge(level: str) -> dict:
    label, symbol = LEVELS.get(level, LEVELS["no_data"])
    return {"code": level if level in LEVELS else "no_data", "label": label, "symbol": symbol}


def trend_badge(direction: str, delta: float | None) -> dict:
    symbol, label = TRENDS.get(direction, ("–", gettext_lazy("trend unknown")))
    return {"code": direction, "symbol": symbol, "label": label,
            "delta": None if delta is None else rounded(delta, 1)}


def _driver_rows(drivers: list[dict]) -> list[dict]:
    return [
        {"code": d["code"], "label": text(d.get("label")), "contribution": rounded(d["contribution"], 1)}
        for d in alert_services.top_drivers(drivers)
    ]


def _goal_rows(goals: list[Goal], *, today: dt.date) -> dict[int, list[dict]]:
    progress = goal_progress(goals, today=today)
    rows: dict[int, list[dict]] = defaultdict(list)
    for goal in goals:
        p = progress[goal.pk]
        rows[goal.placement_id].append({
            "goal": goal, "state": p.state, "state_label": GOAL_STATES[p.state],
            "current": None if p.current is None else rounded(p.current, 2),
            "baseline": plain_number(goal.baseline), "target": plain_number(goal.target),
            "percent": None if p.progress is None else round(p.progress * 100),
            "review_due": p.review_due, "indicator": goal.get_indicator_display(),
        })
    return rows


# --- The family's portal: check-in, help now, goals ---------------------------------------------------------------


def family_placements(user):
    """The active placements in the user's own foster home (never someone else's)."""
    ids = scope_for(user).foster_household_ids
    return Placement.objects.for_user(user).active().filter(foster_household_id__in=ids).order_by("starts_on", "pk")


def portal_context(user, *, now: dt.datetime) -> dict:
    """What the portal's well-being card needs; empty for people who are not foster parents."""
    queryset = family_placements(user)
    placements = list(queryset)
    if not placements:
        return {"wellbeing": None}
    today = timezone.localdate(now)
    goals = list(Goal.objects.for_user(user).filter(placement__in=placements, status=GoalStatus.ACTIVE))
    last = CheckIn.objects.for_user(user).filter(placement__in=placements).order_by("-on", "-created_at").first()
    goal_rows = _goal_rows(goals, today=today)
    return {"wellbeing": {
        "checkin_form": CheckInForm(placements=queryset),
        "goals": [row for p in placements for row in goal_rows.get(p.pk, [])],
        "last_checkin": last.on if last else None,
    }}


def _family_form(request, form_class):
    placements = family_placements(request.user)
    if not placements.exists():
        raise Http404
    if request.method == "POST":
        return form_class(request.POST, placements=placements)
    return form_class(placements=placements)


def _record_family_checkin(request, form, answers: tuple[str, ...], **fixed) -> int | None:
    """Record the family's check-in from the form's `answers`: None when saved, else the status to answer."""
    if not form.is_valid():
        return 400
    data, now = form.cleaned_data, timezone.now()
    try:
        signals.record_checkin(placement=data["placement"], by=request.user, on=timezone.localdate(now), now=now,
                               **{key: data[key] for key in answers}, **fixed)
    except DomainError as exc:
        form.add_domain_error(exc)
        return exc.status
    return None


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def checkin(request):
    """The weekly check-in on its own page (the portal shows the same form; errors come back here)."""
    form = _family_form(request, CheckInForm)
    status = 200
    if request.method == "POST":
        status = _record_family_checkin(request, form, ("stress", "sleep", "conflicts", "commitment", "free_text"))
        if status is None:
            messages.success(request, _("Thank you. Your check-in has been sent to your consultant."))
            return redirect(reverse("web:portal") + "#wellbeing")
    return render(request, "wellbeing/checkin_page.html", {"form": form}, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def help_now(request):
    """"We need help now": GET asks for confirmation, POST alerts the consultant at once (via the service)."""
    form = _family_form(request, HelpNowForm)
    status = 200
    if request.method == "POST":
        status = _record_family_checkin(request, form, ("stress", "free_text"), help_now=True)
        if status is None:
            if form.cleaned_data["placement"].consultant_id:
                text_ = _("Your consultant has been alerted and will contact you as soon as possible. "
                          "If anyone is in danger, call 112.")
            else:
                text_ = _("The foster care team has been alerted and will contact you as soon as possible. "
                          "If anyone is in danger, call 112.")
            messages.success(request, text_)
            return redirect(reverse("web:portal") + "#wellbeing")
    return render(request, "wellbeing/help_now.html", {"form": form}, status=status)


# --- Staff: my placements by level and trend ---------------------------------------------------------------------


@dataclass
class PlacementRow:
    placement: Placement
    score: RiskScore | None
    level: dict
    trend: dict | None
    drivers: list[dict] = field(default_factory=list)
    needs: list[SupportNeed] = field(default_factory=list)
    sessions: list[SessionOccurrence] = field(default_factory=list)
    goals: list[dict] = field(default_factory=list)
    open_alerts: int = 0

    @property
    def rank(self) -> int:
        return self.score.level_rank if self.score else LEVEL_RANK["no_data"]


def placement_rows(user, placements: list[Placement], *, now: dt.datetime) -> list[PlacementRow]:
    """Each placement with its current score, drivers, open needs, next sessions and goals.

    Ordered as `RiskScore...by_attention()` orders: red, no data, yellow, green, and the fastest
    rising first within a level. A placement never scored counts as "no recent data".
    """
    today = timezone.localdate(now)
    by_id = {p.pk: p for p in placements}
    scores = list(RiskScore.objects.for_user(user).current().filter(placement_id__in=by_id).by_attention())
    needs = defaultdict(list)
    for need in (SupportNeed.objects.for_user(user).filter(placement_id__in=by_id,
                                                           status__in=[NeedStatus.OPEN, NeedStatus.PROPOSED])
                 .select_related("service").order_by("-priority", "created_at")):
        need.service_name = local_name(need.service)
        needs[need.placement_id].append(need)
    sessions = defaultdict(list)
    for occ in (SessionOccurrence.objects.for_user(user).booked()
                .filter(series__need__placement_id__in=by_id, start__gte=now, start__lt=now + SESSIONS_AHEAD)
                .select_related("series__need__service", "series__provider").order_by("start")):
        placement_id = occ.series.need.placement_id
        if len(sessions[placement_id]) < 3:
            occ.service_name = local_name(occ.series.need.service)
            sessions[placement_id].append(occ)
    goals = _goal_rows(list(Goal.objects.for_user(user).filter(placement_id__in=by_id, status=GoalStatus.ACTIVE)),
                       today=today)
    alert_counts = dict(Alert.objects.for_user(user).open().filter(placement_id__in=by_id)
                        .values_list("placement_id").annotate(n=Count("id")).values_list("placement_id", "n"))

    def row(placement: Placement, score: RiskScore | None) -> PlacementRow:
        return PlacementRow(
            placement=placement, score=score, level=level_badge(score.level if score else "no_data"),
            trend=trend_badge(score.trend_direction, score.trend_delta) if score else None,
            drivers=_driver_rows(score.drivers) if score else [], needs=needs.get(placement.pk, []),
            sessions=sessions.get(placement.pk, []), goals=goals.get(placement.pk, []),
            open_alerts=alert_counts.get(placement.pk, 0),
        )

    rows = [row(by_id[s.placement_id], s) for s in scores]
    scored = {s.placement_id for s in scores}
    rows += [row(p, None) for p in sorted(placements, key=lambda p: (p.child.display_name, p.pk)) if p.pk not in scored]
    rows.sort(key=lambda r: -r.rank)  # stable: keeps by_attention's order within a level
    return rows


@never_cache
@login_required
@require_GET
def my_placements(request):
    municipalities = list(case_municipalities(request.user))
    base = (Placement.objects.for_user(request.user).active().filter(municipality__in=municipalities)
            .select_related("child", "foster_household", "consultant"))
    mine = base.filter(consultant=request.user)
    show = request.GET.get("show")
    if show not in ("mine", "all"):
        show = "mine" if mine.exists() else "all"
    rows = placement_rows(request.user, list(mine if show == "mine" else base), now=timezone.now())
    counts = defaultdict(int)
    for r in rows:
        counts[r.level["code"]] += 1
    summary = [(level_badge(code), counts[code]) for code in ("red", "no_data", "yellow", "green")]
    return render(request, "wellbeing/my_placements.html", {"rows": rows, "show": show, "summary": summary})


# --- Staff: the alerts inbox and an alert's page -----------------------------------------------------------------


def _alert_row(alert: Alert) -> dict:
    return {
        "alert": alert, "level": level_badge(alert.level) if alert.level else None,
        "previous": level_badge(alert.previous_level) if alert.previous_level else None,
        "kind": alert.get_kind_display(), "urgent": alert.kind == AlertKind.HELP_NOW,
        "drivers": [{"label": text(d.get("label")), "contribution": rounded(d.get("contribution") or 0, 1)}
                    for d in alert.drivers],
        "recommendations": [text(r.get("label")) for r in alert.recommendations],
        "milestone": (alert.milestone.title_en if (get_language() or "da").startswith("en") else alert.milestone.title_da)
        if alert.milestone else "",
    }


@never_cache
@login_required
@require_GET
def alerts_inbox(request):
    municipalities = case_municipalities(request.user)
    open_alerts = (Alert.objects.for_user(request.user).filter(municipality__in=municipalities).open()
                   .select_related("placement__child", "milestone", "household", "recipient"))
    mine = open_alerts.filter(recipient=request.user)
    show = request.GET.get("show")
    if show not in ("mine", "all"):
        show = "mine" if mine.exists() else "all"
    chosen = list(mine if show == "mine" else open_alerts)
    # The family's own call for help first, then red, then the newest.
    chosen.sort(key=lambda a: (a.kind != AlertKind.HELP_NOW, -LEVEL_RANK.get(a.level, -1), -a.created_at.timestamp()))
    recent = (Alert.objects.for_user(request.user).filter(municipality__in=municipalities)
              .exclude(status=AlertStatus.OPEN)
              .select_related("placement__child", "milestone", "acknowledged_by").order_by("-acknowledged_at")[:10])
    return render(request, "wellbeing/alerts_inbox.html", {
        "rows": [_alert_row(a) for a in chosen], "show": show, "recent": [_alert_row(a) for a in recent],
    })


def _alert_for(request, alert_id: int) -> Alert:
    municipalities = case_municipalities(request.user)
    return get_object_or_404(
        Alert.objects.for_user(request.user).filter(municipality__in=municipalities).select_related(
            "placement__child", "placement__foster_household", "milestone", "score", "checkin", "recipient",
            "acknowledged_by",
        ),
        pk=alert_id,
    )


def _score_to_assess(alert: Alert) -> RiskScore | None:
    if alert.score_id:
        return alert.score
    if alert.placement_id:
        return RiskScore.objects.filter(placement_id=alert.placement_id, latest=True).first()
    return None


def _render_alert(request, alert: Alert, *, failed: dict | None = None, status: int = 200):
    """The alert page; `failed` carries a form that did not pass, to show it with its messages."""
    failed = failed or {}
    today = timezone.localdate()
    created = {link.recommendation_code: link.need for link in
               AlertSupportNeed.objects.filter(alert=alert).select_related("need__service")}
    recommendations = []
    for rec in alert.recommendations:
        key = f"need-{rec['code']}"
        form = failed.get(key) or NeedFromRecommendationForm(prefix=key, initial={"starts_on": today})
        recommendations.append({
            "code": rec["code"], "label": text(rec.get("label")), "reason": text(rec.get("reason")),
            "is_meeting": rec.get("service") == "meeting", "priority": rec.get("priority"),
            "need": created.get(rec["code"]), "form": form, "open": key in failed,
        })
    score = _score_to_assess(alert)
    mine = None
    if score is not None:
        mine = ScoreAssessment.objects.filter(score=score, assessed_by=request.user).first()
    # A refusal whose form is no longer shown (acknowledged or assessed meanwhile) is said at the top.
    hidden = [failed["acknowledge"]] if "acknowledge" in failed and alert.status != AlertStatus.OPEN else []
    hidden += [failed["assess"]] if "assess" in failed and mine is not None else []
    context = {
        "row": _alert_row(alert), "alert": alert,
        "refusals": [str(e) for form in hidden for errors in form.errors.values() for e in errors],
        "reasons": [{"level": r.get("level"), "text": text(r.get("text"))} for r in alert.reasons],
        "recommendations": recommendations,
        "ack_form": failed.get("acknowledge") or AcknowledgeForm(prefix="ack"),
        "score": score, "score_level": level_badge(score.level) if score else None,
        "assessment": mine,
        "assess_form": failed.get("assess") or AssessmentForm(prefix="assess"),
        "checkin": alert.checkin if alert.kind == AlertKind.HELP_NOW else None,
    }
    return render(request, "wellbeing/alert_detail.html", context, status=status)


@never_cache
@login_required
@require_GET
def alert_detail(request, alert_id: int):
    """The page alert emails link to (support.wellbeing.conf.ALERT_PATH)."""
    return _render_alert(request, _alert_for(request, alert_id))


@never_cache
@login_required
@require_POST
def alert_acknowledge(request, alert_id: int):
    alert = _alert_for(request, alert_id)
    form = AcknowledgeForm(request.POST, prefix="ack")
    if not form.is_valid():
        return _render_alert(request, alert, failed={"acknowledge": form}, status=400)
    try:
        alert_services.acknowledge_alert(alert=alert, by=request.user, outcome=form.cleaned_data["outcome"],
                                         note=form.cleaned_data["acknowledgement_note"], now=timezone.now())
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_alert(request, alert, failed={"acknowledge": form}, status=exc.status)
    messages.success(request, _("The alert is acknowledged."))
    return redirect("web:alerts")


@never_cache
@login_required
@require_POST
def alert_assess(request, alert_id: int):
    alert = _alert_for(request, alert_id)
    score = _score_to_assess(alert)
    if score is None:
        raise Http404
    form = AssessmentForm(request.POST, prefix="assess")
    if not form.is_valid():
        return _render_alert(request, alert, failed={"assess": form}, status=400)
    try:
        alert_services.record_assessment(
            score=score, by=request.user, decision=form.cleaned_data["decision"], reason=form.cleaned_data["reason"],
            assessed_level=form.cleaned_data["assessed_level"], now=timezone.now(),
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_alert(request, alert, failed={"assess": form}, status=exc.status)
    messages.success(request, _("Your assessment is recorded."))
    return redirect("web:alert", alert_id=alert.pk)


@never_cache
@login_required
@require_POST
def alert_create_need(request, alert_id: int, code: str):
    """One click: a recommendation becomes an open support need (then matching takes over)."""
    alert = _alert_for(request, alert_id)
    if not any(r["code"] == code for r in alert.recommendations):
        raise Http404
    key = f"need-{code}"
    form = NeedFromRecommendationForm(request.POST, prefix=key)
    if not form.is_valid():
        return _render_alert(request, alert, failed={key: form}, status=400)
    data = form.cleaned_data
    try:
        need = alert_services.create_need_from_recommendation(
            alert=alert, recommendation_code=code, by=request.user, minutes_per_session=data["minutes_per_session"],
            sessions_per_week=data["sessions_per_week"], starts_on=data["starts_on"], now=timezone.now(),
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_alert(request, alert, failed={key: form}, status=exc.status)
    messages.success(request, _("A support need for %(service)s is created and waits for matching.")
                     % {"service": local_name(need.service)})
    return redirect(reverse("web:alert", kwargs={"alert_id": alert.pk}) + f"#rec-{code}")


# Included by web/urls.py. /alerts/<id>/ is support.wellbeing.conf.ALERT_PATH: the emails link there.
urlpatterns = [
    path("portal/checkin/", checkin, name="checkin"),
    path("portal/help-now/", help_now, name="help-now"),
    path("workspace/placements/", my_placements, name="my-placements"),
    path("alerts/", alerts_inbox, name="alerts"),
    path("alerts/<int:alert_id>/", alert_detail, name="alert"),
    path("alerts/<int:alert_id>/acknowledge/", alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:alert_id>/assess/", alert_assess, name="alert-assess"),
    path("alerts/<int:alert_id>/recommendations/<slug:code>/need/", alert_create_need, name="alert-need"),
]
