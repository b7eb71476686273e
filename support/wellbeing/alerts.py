"""Alerts for the responsible consultant, their email, and what the consultant does about them.

An alert is created when a placement's level rises (green/no data -> yellow -> red), when a
foster family asks for help now, and when a milestone is due soon or overdue. At most one alert
per subject and key is open at a time (a database constraint); a new trigger while one is open
is counted on the open alert instead (`repeat_count`).

Emails never contain the child's name, the family's free text or the drivers: they say that
there is something to look at and link to the alert page. The alert row is the outbox: a sender
claims it with a conditional UPDATE (several workers never send the same alert twice), records
the last error, retries with back-off, and gives up on a permanent failure.

In shadow mode (settings.RISK_SHADOW_MODE, model card § 13) level alerts are stored but not
emailed. "Help now" is the family's own request, not the model's, so it is always emailed.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q

from support import audit, services
from support.errors import Conflict, DomainError, InvalidTransition, NotFoundInScope
from support.models import (
    Alert,
    AlertKind,
    AlertOutcome,
    AlertStatus,
    AlertSupportNeed,
    AssessmentDecision,
    CheckIn,
    EmailState,
    Level,
    Membership,
    NeedOrigin,
    RiskScore,
    ScoreAssessment,
    SupportNeed,
)
from support.roles import Role, scope_for
from support.wellbeing.conf import alert_url, shadow_mode

log = logging.getLogger(__name__)

# Strain order for "the level rose": no data is not strain, so no data -> yellow is a rise.
RISE_ORDER = {"green": 0, "no_data": 0, "yellow": 1, "red": 2}
LEVEL_DA = {"red": "rød", "yellow": "gul", "green": "grøn", "no_data": "ingen nye data"}
MAX_EMAIL_ATTEMPTS = 5
SENDING_LEASE = dt.timedelta(minutes=10)


def placement_subject(placement_id: int) -> str:
    return f"placement:{placement_id}"


def household_subject(household_id: int) -> str:
    return f"household:{household_id}"


def _require_staff(user, municipality_id: int) -> None:
    if municipality_id not in scope_for(user).staff_municipality_ids:
        raise NotFoundInScope("Not found.")


def top_drivers(drivers: Sequence[dict], n: int = 3) -> list[dict]:
    known = [d for d in drivers if d.get("status") == "known" and (d.get("contribution") or 0) > 0]
    known.sort(key=lambda d: d["contribution"], reverse=True)
    return [{"code": d["code"], "label": d["label"], "s": d["s"], "contribution": d["contribution"]} for d in known[:n]]


def _email_state(recipient_id: int | None, *, shadow: bool) -> str:
    return EmailState.NOT_SENT if shadow or recipient_id is None else EmailState.PENDING


def enqueue_alert_emails() -> None:
    """After the current transaction commits, send what is pending (a django-q2 task)."""
    from django_q.tasks import async_task

    # robust: with the broker down the alert is still saved (and shown); its email goes with the next run.
    transaction.on_commit(lambda: async_task("support.wellbeing.tasks.send_alert_emails", task_name="wellbeing-alert-emails"),
                          robust=True)


# --- Creating alerts ----------------------------------------------------------------------------------------


def _only_help_now(score: RiskScore) -> bool:
    red = [r for r in score.detail.get("reasons", []) if r["level"] == Level.RED]
    return bool(red) and all(r["code"] == "acute_event" and r["drivers"] == ["help_now"] for r in red)


def rose(before: str | None, after: str) -> bool:
    """Did the level rise? A first score counts as rising from green; no data -> yellow is a rise."""
    return RISE_ORDER[after] > RISE_ORDER.get(before or "green", 0)


def alerts_for_scores(scores: Sequence[RiskScore], *, previous: dict[int, str], now: dt.datetime) -> int:
    """Alert the responsible consultant for each placement whose level rose; returns how many were new."""
    rising = [s for s in scores if rose(previous.get(s.placement_id), s.level)]
    if not rising:
        return 0
    subjects = [placement_subject(s.placement_id) for s in rising]
    open_alerts = {(a.subject, a.key): a for a in Alert.objects.filter(subject__in=subjects, status=AlertStatus.OPEN)}
    shadow = shadow_mode()
    new = []
    for score in rising:
        subject = placement_subject(score.placement_id)
        payload = {
            "score": score, "level": score.level, "drivers": top_drivers(score.drivers),
            "reasons": score.detail.get("reasons", []), "recommendations": score.detail.get("recommendations", []),
        }
        help_now = open_alerts.get((subject, "help_now"))
        if score.level == Level.RED and help_now is not None and _only_help_now(score):
            # The consultant was told at once; give that alert the score's drivers and suggestions.
            Alert.objects.filter(pk=help_now.pk).update(last_seen_at=now, **payload)
            continue
        key = f"level:{score.level}"
        existing = open_alerts.get((subject, key))
        if existing is not None:
            Alert.objects.filter(pk=existing.pk).update(repeat_count=F("repeat_count") + 1, last_seen_at=now, **payload)
            continue
        new.append(Alert(
            municipality_id=score.municipality_id, subject=subject, placement_id=score.placement_id,
            recipient_id=score.consultant_id, kind=AlertKind.LEVEL_RISE, key=key,
            previous_level=previous.get(score.placement_id, ""), shadow=shadow, created_at=now, last_seen_at=now,
            email_state=_email_state(score.consultant_id, shadow=shadow), **payload,
        ))
    # A concurrent run may have opened the same alert a moment ago: the constraint keeps one.
    Alert.objects.bulk_create(new, ignore_conflicts=True)
    if any(a.email_state == EmailState.PENDING for a in new):
        enqueue_alert_emails()
    return len(new)


def raise_help_now_alert(*, checkin: CheckIn, now: dt.datetime) -> Alert:
    """The family asked for help now: alert the responsible consultant at once (call inside the
    transaction that saved the check-in; the email goes after it commits)."""
    placement = checkin.placement
    subject = placement_subject(placement.pk)
    try:
        with transaction.atomic():  # a savepoint: two carers pressing at once must both succeed
            alert = Alert.objects.create(
                municipality_id=placement.municipality_id, subject=subject, placement=placement,
                recipient_id=placement.consultant_id, kind=AlertKind.HELP_NOW, key="help_now", level=Level.RED,
                checkin=checkin, created_at=now, last_seen_at=now,
                email_state=_email_state(placement.consultant_id, shadow=False),
            )
    except IntegrityError:
        # One is open already (the database keeps one per key): count this one on it.
        existing = Alert.objects.get(subject=subject, key="help_now", status=AlertStatus.OPEN)
        Alert.objects.filter(pk=existing.pk).update(repeat_count=F("repeat_count") + 1, last_seen_at=now,
                                                    checkin=checkin)
        existing.refresh_from_db()
        return existing
    audit.record(actor=None, action="alert.create", obj=alert, details={"kind": alert.kind})
    if alert.email_state == EmailState.PENDING:
        enqueue_alert_emails()
    return alert


def create_alerts(alerts: Iterable[Alert]) -> int:
    """Insert prepared alerts (milestones), skipping any that an open alert already covers."""
    alerts = list(alerts)
    if not alerts:
        return 0
    Alert.objects.bulk_create(alerts, ignore_conflicts=True)
    if any(a.email_state == EmailState.PENDING for a in alerts):
        enqueue_alert_emails()
    return len(alerts)


def resolve_alerts(*, subject: str, keys: Iterable[str], now: dt.datetime) -> int:
    """Close open alerts whose cause went away by itself (e.g. a deadline that was met)."""
    return Alert.objects.filter(subject=subject, key__in=list(keys), status=AlertStatus.OPEN).update(
        status=AlertStatus.RESOLVED, acknowledged_at=now, outcome=AlertOutcome.DONE,
    )


# --- What the consultant does -------------------------------------------------------------------------------


def acknowledge_alert(*, alert: Alert, by, outcome: str, note: str = "", now: dt.datetime) -> Alert:
    """The consultant has seen the alert and says what came of it; the note and outcome are kept."""
    _require_staff(by, alert.municipality_id)
    if outcome not in AlertOutcome.values:
        raise DomainError("Choose what came of the alert.", code="invalid_outcome",
                          fields={"outcome": [f"Choose one of: {', '.join(AlertOutcome.values)}."]})
    if outcome in (AlertOutcome.OTHER, AlertOutcome.NO_ACTION_NEEDED) and not note.strip():
        raise DomainError("Say briefly why.", code="note_required", fields={"acknowledgement_note": ["Required."]})
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
            status=AlertStatus.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=by,
            acknowledgement_note=note.strip(), outcome=outcome,
        )
        if changed != 1:
            raise InvalidTransition("The alert is no longer open; someone has already acknowledged it.")
        audit.record(actor=by, action="alert.acknowledge", obj=alert, details={"outcome": outcome})
    alert.refresh_from_db()
    return alert


def record_assessment(*, score: RiskScore, by, decision: str, reason: str = "", assessed_level: str = "",
                      now: dt.datetime) -> ScoreAssessment:
    """The consultant agrees with a score, or overrides it with a reason and the level they find right."""
    _require_staff(by, score.municipality_id)
    errors: dict[str, list[str]] = {}
    if decision not in AssessmentDecision.values:
        errors["decision"] = ["Choose agree or override."]
    reason = reason.strip()
    if decision == AssessmentDecision.OVERRIDE:
        if not reason:
            errors["reason"] = ["An override needs a reason."]
        if assessed_level not in Level.values or assessed_level == score.level:
            errors["assessed_level"] = ["Give the level you find right (different from the score's)."]
    else:
        assessed_level = score.level
    if errors:
        raise DomainError("The assessment is not valid.", fields=errors)
    try:
        with transaction.atomic():
            assessment = ScoreAssessment.objects.create(
                score=score, placement_id=score.placement_id, municipality_id=score.municipality_id, assessed_by=by,
                decision=decision, assessed_level=assessed_level, reason=reason, created_at=now,
            )
            audit.record(actor=by, action=f"risk_score.{decision}", obj=score,
                         details={"level": score.level, "assessed_level": assessed_level})
    except IntegrityError:
        raise Conflict("You have already assessed this score.") from None
    return assessment


@dataclass
class OverrideFigures:
    assessed: int = 0
    agreed: int = 0
    overridden: int = 0
    overridden_lower: int = 0  # the consultant found less concern than the index
    overridden_higher: int = 0
    unassessed_flags: int = 0  # current yellow/red scores nobody has assessed

    @property
    def override_rate(self) -> float | None:
        return None if not self.assessed else round(self.overridden / self.assessed, 3)


@dataclass
class OverrideReport:
    """Override rates for a team lead. About one in three is normal (AFST); near 0 may mean rubber-stamping."""

    total: OverrideFigures
    by_consultant: dict[int, OverrideFigures] = field(default_factory=dict)
    by_team: dict[int | None, OverrideFigures] = field(default_factory=dict)
    consultant_names: dict[int, str] = field(default_factory=dict)
    team_names: dict[int | None, str] = field(default_factory=dict)


def override_rates(*, municipality_id: int, since: dt.datetime, until: dt.datetime) -> OverrideReport:
    """Agree/override figures per consultant and per team for assessments made in [since, until)."""
    strain = {"green": 0, "no_data": 0, "yellow": 1, "red": 2}
    by_consultant: dict[int, OverrideFigures] = defaultdict(OverrideFigures)
    rows = (
        ScoreAssessment.objects.filter(municipality_id=municipality_id, created_at__gte=since, created_at__lt=until)
        .values("assessed_by", "decision", "assessed_level", "score__level").annotate(n=Count("id"))
    )
    for row in rows:
        figures = by_consultant[row["assessed_by"]]
        figures.assessed += row["n"]
        if row["decision"] == AssessmentDecision.AGREE:
            figures.agreed += row["n"]
        else:
            figures.overridden += row["n"]
            if strain.get(row["assessed_level"], 0) < strain[row["score__level"]]:
                figures.overridden_lower += row["n"]
            else:
                figures.overridden_higher += row["n"]
    unassessed = (
        RiskScore.objects.filter(municipality_id=municipality_id, latest=True, level__in=[Level.YELLOW, Level.RED])
        .filter(assessments__isnull=True).values("consultant_id").annotate(n=Count("id"))
    )
    for row in unassessed:
        if row["consultant_id"] is not None:
            by_consultant[row["consultant_id"]].unassessed_flags += row["n"]

    memberships = Membership.objects.filter(
        municipality_id=municipality_id, role__in=[Role.CONSULTANT, Role.TEAM_LEAD], user_id__in=list(by_consultant)
    ).values_list("user_id", "user__username", "team_id", "team__name")
    team_of, names, team_names = {}, {}, {None: "(no team)"}
    for user_id, username, team_id, team_name in memberships:
        names[user_id] = username
        if team_id is not None or user_id not in team_of:
            team_of[user_id] = team_id
            team_names[team_id] = team_name or "(no team)"
    total, by_team = OverrideFigures(), defaultdict(OverrideFigures)
    for user_id, figures in by_consultant.items():
        for target in (total, by_team[team_of.get(user_id)]):
            for name in ("assessed", "agreed", "overridden", "overridden_lower", "overridden_higher", "unassessed_flags"):
                setattr(target, name, getattr(target, name) + getattr(figures, name))
    return OverrideReport(total=total, by_consultant=dict(by_consultant), by_team=dict(by_team),
                          consultant_names=names, team_names=team_names)


def create_need_from_recommendation(
    *, alert: Alert, recommendation_code: str, by, minutes_per_session: int, sessions_per_week, starts_on: dt.date,
    now: dt.datetime, priority: int | None = None, recipient_household=None, required_competences: Iterable[str] = (),
    preferred_competences: Iterable[str] = (), ends_on: dt.date | None = None, reason: str = "",
) -> SupportNeed:
    """One click: turn one of the alert's recommendations into an open support need (origin "alert").

    The consultant supplies what the model cannot know (how long, how often, from when) and may
    add competences from the child's plan. The need is linked back to the alert.
    """
    _require_staff(by, alert.municipality_id)
    if alert.placement_id is None:
        raise DomainError("This alert is not about a placement.", code="no_placement")
    rec = next((r for r in alert.recommendations if r["code"] == recommendation_code), None)
    if rec is None:
        raise DomainError("The alert has no such recommendation.", code="unknown_recommendation",
                          fields={"recommendation_code": ["Unknown."]})
    if rec["service"] == "meeting":
        raise DomainError("A meeting is planned in the calendar, not created as a support need.",
                          code="not_a_support_need", fields={"recommendation_code": ["A meeting."]})
    if AlertSupportNeed.objects.filter(alert=alert, recommendation_code=recommendation_code).exists():
        raise Conflict("A support need has already been created from this recommendation.")
    try:
        with transaction.atomic():
            need = services.create_support_need(
                placement=alert.placement, recipient=rec["recipient"], service=rec["service"],
                minutes_per_session=minutes_per_session, sessions_per_week=sessions_per_week, starts_on=starts_on,
                by=by, recipient_household=recipient_household,
                required_competences=[*rec["required_competences"], *required_competences],
                preferred_competences=[*rec["preferred_competences"], *preferred_competences],
                priority=priority if priority is not None else rec["priority"], ends_on=ends_on,
                origin=NeedOrigin.ALERT, reason=reason or rec["reason"]["da"],
            )
            AlertSupportNeed.objects.create(alert=alert, need=need, recommendation_code=recommendation_code,
                                            created_at=now)
            audit.record(actor=by, action="alert.create_support_need", obj=alert,
                         details={"need": need.pk, "recommendation": recommendation_code})
    except IntegrityError:
        raise Conflict("A support need has already been created from this recommendation.") from None
    return need


# --- Email -----------------------------------------------------------------------------------------------------


def compose_email(alert: Alert) -> tuple[str, str]:
    """Subject and body. Never the child's name, the family's text or the drivers: only a link."""
    url = alert_url(alert.pk)
    privacy = ("Barnets navn og familiens egne ord står af hensyn til fortroligheden ikke i denne e-mail.\n"
               "For confidentiality, the child's name and the family's own words are not in this email.")
    if alert.kind == AlertKind.HELP_NOW:
        subject = "Plejenet: akut check-in – en plejefamilie beder om hjælp nu"
        body = ("En plejefamilie i en anbringelse, du er ansvarlig for, har sendt en check-in med "
                "\"Vi har brug for hjælp nu\".\n"
                "A foster family in a placement you are responsible for has sent an urgent check-in "
                "(\"we need help now\").\n")
    elif alert.kind == AlertKind.LEVEL_RISE:
        subject = f"Plejenet: en anbringelse er nu {LEVEL_DA.get(alert.level, alert.level)}"
        body = (f"Støttebehovsindekset for en anbringelse, du er ansvarlig for, er nu "
                f"{LEVEL_DA.get(alert.level, alert.level)} (før: {LEVEL_DA.get(alert.previous_level, '-')}).\n"
                f"The support-need level of a placement you are responsible for is now {alert.level} "
                f"(before: {alert.previous_level or '-'}). Indekset foreslår; du beslutter.\n")
    else:
        milestone = alert.milestone
        when = milestone.due_on.isoformat() if milestone else ""
        title_da = milestone.title_da if milestone else ""
        title_en = milestone.title_en if milestone else ""
        late = alert.kind == AlertKind.MILESTONE_OVERDUE
        subject = f"Plejenet: {'frist overskredet' if late else 'frist nærmer sig'} – {title_da} {when}"
        body = (f"{title_da}: {'fristen var' if late else 'frist'} {when}.\n"
                f"{title_en}: {'was due' if late else 'due'} {when}.\n")
    return subject, f"{body}\nÅbn / open: {url}\n\n{privacy}\n"


def send_pending_alert_emails(*, now: dt.datetime, limit: int = 200) -> int:
    """Send every pending alert email; safe to run in several workers at once. Returns how many were sent."""
    # A worker that died while sending leaves its claim behind; its lease expires.
    Alert.objects.filter(email_state=EmailState.SENDING, email_not_before__lt=now).update(email_state=EmailState.PENDING)
    ids = list(
        Alert.objects.filter(email_state=EmailState.PENDING)
        .filter(Q(email_not_before__isnull=True) | Q(email_not_before__lte=now))
        .order_by("created_at").values_list("id", flat=True)[:limit]
    )
    sent = 0
    for alert_id in ids:
        claimed = Alert.objects.filter(pk=alert_id, email_state=EmailState.PENDING).update(
            email_state=EmailState.SENDING, email_attempts=F("email_attempts") + 1, email_not_before=now + SENDING_LEASE,
        )
        if claimed != 1:
            continue  # another worker has it
        alert = Alert.objects.select_related("recipient", "milestone").get(pk=alert_id)
        address = alert.recipient.email if alert.recipient else ""
        if not address:
            Alert.objects.filter(pk=alert_id).update(email_state=EmailState.NOT_SENT,
                                                     email_last_error="The recipient has no email address.")
            continue
        subject, body = compose_email(alert)
        try:
            send_mail(subject, body, None, [address])
        except Exception as exc:  # SMTP and socket errors; the row records what happened
            permanent = isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused) or (
                isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600
            )
            give_up = permanent or alert.email_attempts >= MAX_EMAIL_ATTEMPTS
            Alert.objects.filter(pk=alert_id).update(
                email_state=EmailState.FAILED if give_up else EmailState.PENDING,
                email_last_error=f"{type(exc).__name__}: {exc}"[:1000],
                email_not_before=None if give_up else now + dt.timedelta(minutes=2 ** alert.email_attempts),
            )
            log.warning("alert %s email failed (attempt %s, permanent=%s): %s", alert_id, alert.email_attempts,
                        permanent, type(exc).__name__)
            continue
        Alert.objects.filter(pk=alert_id).update(email_state=EmailState.SENT, emailed_at=now, email_last_error="",
                                                 email_not_before=None)
        sent += 1
    return sent


__all__ = [
    "OverrideFigures",
    "OverrideReport",
    "acknowledge_alert",
    "alerts_for_scores",
    "compose_email",
    "create_alerts",
    "create_need_from_recommendation",
    "override_rates",
    "raise_help_now_alert",
    "record_assessment",
    "resolve_alerts",
    "rose",
    "send_pending_alert_emails",
]
