"""GDPR services: retention (anonymise closed placements), right of access (export), erasure.

What the law asks of a municipal foster-care system, and what these services do:

* Retention (storage limitation, art. 5(1)(e)). A placement that ended more than
  `RETENTION_YEARS` (default 5) years ago keeps its statistics (dates, status, breakdown reason,
  scores, structured answers) and loses what identifies people or tells their story: the placement's
  end note and every free text in records about it are cleared. When *all* of a child's placements
  are past retention, the child becomes "Anonymiseret", born 1 January of the birth year, with no
  CPR hash. A child with a newer placement keeps their identity until that one is old enough too.
* Right of access (art. 15). `export_person` gathers everything stored about one user: account,
  memberships, the households they belong to, the rows they wrote or decided (check-ins, notes,
  decisions), the audit entries by and about them, and their sign-in security records. Children's
  records are not part of a parent's or consultant's export: they are data about the child.
* Erasure (art. 17). `delete_person` deletes the account and what hangs on it (memberships,
  tokens, devices, sessions, login records). Records the municipality must keep (check-ins,
  decisions) stay, with the author link cleared. The audit trail stays whole: the user's entries
  are pseudonymised to "deleted-user-<hash>" (a keyed hash, the same for every entry of that user).

Which models hold personal data is a registry (`register`): a new model with a user link or free
text about a placement adds itself with one call, next to its definition or in its app's
`ready()`, and the three services pick it up. tests/security/test_privacy_registry.py fails when a
model with a placement link has a text field nobody registered.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import operator
import re
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from support import audit
from support.errors import DomainError
from support.models import AuditEntry, Child, ContactPerson, Household, Membership, Placement, PlacementStatus

ANONYMISED = "Anonymiseret"
EXPORT_FORMAT = "plejenet-person-export/1"
DEFAULT_RETENTION_YEARS = 5
# Never exported, whatever model they sit on: credentials and their hashes.
_SECRET_FIELD = re.compile(r"password|token|secret|(^|_)key$|_hash$", re.IGNORECASE)


# --- The registry ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """How one model holds personal data.

    authored_by: user links naming who wrote or decided a row (exported to that user, cleared on erasure
        by the model's own on_delete=SET_NULL).
    placement: lookup from the row to its Placement ("placement", "need__placement"): its free text
        is cleared when that placement is past retention.
    child: lookup from the row to a Child: its free text is cleared when the child is anonymised.
    free_text: fields cleared by retention ("" where blank is allowed, "Anonymiseret" where not).
    labels: text fields that name the author (e.g. "by_label"): set to the pseudonym on erasure.
    keep: text fields deliberately left (not personal), so the registry test knows they were looked at.
    """

    label: str
    authored_by: tuple[str, ...] = ()
    placement: str | None = None
    child: str | None = None
    free_text: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    def model(self) -> type[models.Model] | None:
        try:
            return apps.get_model(self.label)
        except LookupError:
            return None  # registered ahead of its model, or its app is not installed here

    def check_fields(self, model) -> None:
        for name in (*self.authored_by, *self.free_text, *self.labels, *self.keep):
            try:
                model._meta.get_field(name)
            except FieldDoesNotExist:
                raise ImproperlyConfigured(f"support.privacy: {self.label} has no field {name!r}") from None


_REGISTRY: dict[str, Source] = {}


def register(label: str, **how: Any) -> None:
    """Declare a model's personal data (see Source). Registering a label again replaces it."""
    _REGISTRY[label.lower()] = Source(label=label, **{k: tuple(v) if isinstance(v, list) else v for k, v in how.items()})


def sources() -> list[tuple[type[models.Model], Source]]:
    """The registered sources whose model exists, each checked against its fields."""
    found = []
    for source in _REGISTRY.values():
        model = source.model()
        if model is not None:
            source.check_fields(model)
            found.append((model, source))
    return found


# The care domain.
# The placement itself: its consultant is an assignment, not authorship, so it is not in their export.
register("support.Placement", placement="pk", free_text=("end_note",), keep=("institution_name",))
register("support.SupportNeed", authored_by=("created_by",), placement="placement", free_text=("reason",))
register("support.ContactPerson", authored_by=("user",))
# Well-being (support/models/wellbeing.py).
register("support.CheckIn", authored_by=("submitted_by",), placement="placement", free_text=("free_text",))
register("support.SdqScore", authored_by=("recorded_by",), placement="placement")
register("support.SchoolAbsence", authored_by=("recorded_by",), placement="placement")
register("support.Incident", authored_by=("recorded_by",), placement="placement", free_text=("note",))
register("support.ChildView", authored_by=("recorded_by",), placement="placement", free_text=("comment",))
register("support.Stressor", authored_by=("recorded_by",), placement="placement")
register("support.PlacementBackground", authored_by=("updated_by",), placement="placement")
register("support.Goal", authored_by=("created_by",), placement="placement", free_text=("title",))
register("support.GoalMeasurement", authored_by=("recorded_by",), placement="goal__placement")
register("support.ScoreAssessment", authored_by=("assessed_by",), placement="placement", free_text=("reason",))
register("support.Alert", authored_by=("recipient", "acknowledged_by"), placement="placement",
         free_text=("acknowledgement_note", "email_last_error"))
register("support.Milestone", authored_by=("done_by",), placement="placement", free_text=("note",),
         keep=("source",))
register("support.FollowUpCadence", authored_by=("decided_by",), placement="placement", free_text=("justification",))
register("support.CarerSupportDelivery", authored_by=("recorded_by",))
# Matching and scheduling.
register("scheduler.MatchingRun", authored_by=("started_by",), keep=("error",))
register("scheduler.Proposal", authored_by=("decided_by",), placement="need__placement", free_text=("decision_reason",))
register("scheduler.SessionSeries", authored_by=("proposed_by", "confirmed_by"), placement="need__placement")
register("scheduler.SeriesChange", authored_by=("by",), placement="series__need__placement", free_text=("reason",),
         labels=("by_label",))
register("scheduler.Meeting", authored_by=("created_by",), placement="placement",
         free_text=("title", "place_name", "reason", "flag_reason"))
register("scheduler.MeetingParticipant", authored_by=("user",), child="child", free_text=("label",), labels=("label",))
register("scheduler.MeetingChange", authored_by=("by",), placement="meeting__placement", free_text=("reason",),
         labels=("by_label",))


def _cleared_value(model, name: str) -> str:
    return "" if model._meta.get_field(name).blank else ANONYMISED


# --- Retention ---------------------------------------------------------------------------------------------


@dataclass
class AnonymisationResult:
    cutoff: dt.date
    dry_run: bool
    placement_ids: list[int] = field(default_factory=list)  # past retention and changed (or would be)
    child_ids: list[int] = field(default_factory=list)
    cleared_rows: dict[str, int] = field(default_factory=dict)  # model label -> rows whose free text went


def retention_cutoff(*, now: dt.datetime, years: int) -> dt.date:
    """Placements that ended on or before this day are past retention (29 Feb counts back to 28 Feb)."""
    today = timezone.localdate(now)
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def anonymise_closed_placements(
    *, now: dt.datetime, years: int | None = None, dry_run: bool = False, by=None,
) -> AnonymisationResult:
    """Anonymise what retention says must go; idempotent (a second run changes nothing)."""
    years = years or getattr(settings, "RETENTION_YEARS", DEFAULT_RETENTION_YEARS)
    if years < 1:
        raise DomainError("The retention period is at least one year.", code="invalid_retention")
    cutoff = retention_cutoff(now=now, years=years)
    result = AnonymisationResult(cutoff=cutoff, dry_run=dry_run)
    with transaction.atomic():
        old = Placement.objects.exclude(status=PlacementStatus.ACTIVE).filter(ended_on__lte=cutoff)
        # A child is anonymised only when every one of their placements is past retention.
        children = (
            Child.objects.filter(placements__in=old)
            .exclude(placements__status=PlacementStatus.ACTIVE)
            .exclude(placements__ended_on__gt=cutoff)
            .distinct()
        )
        changed_placements: set[int] = set()
        for model, source in sources():
            if source.free_text and source.placement:
                rows = model.objects.filter(**{f"{source.placement}__in": old.values("pk")})
                changed_placements |= _clear(model, source, rows, result, dry_run=dry_run, placement=source.placement)
            if source.free_text and source.child:
                _clear(model, source, model.objects.filter(**{f"{source.child}__in": children.values("pk")}),
                       result, dry_run=dry_run)

        identifiable = Child.objects.filter(pk__in=children.values("pk")).exclude(
            display_name=ANONYMISED, cpr_hash="", birth_date__month=1, birth_date__day=1
        )
        result.child_ids = sorted(identifiable.values_list("pk", flat=True))
        changed_placements |= set(old.filter(child_id__in=result.child_ids).values_list("pk", flat=True))
        if not dry_run:
            for child in Child.objects.filter(pk__in=result.child_ids):
                child.display_name = ANONYMISED
                child.birth_date = dt.date(child.birth_date.year, 1, 1)
                child.cpr_hash = ""
                child.save(update_fields=["display_name", "birth_date", "cpr_hash"])
        result.placement_ids = sorted(changed_placements)

        audit.record(
            actor=by, action="privacy.anonymise_closed_placements", object_type="support.placement",
            details={
                "dry_run": dry_run, "retention_years": years, "cutoff": cutoff.isoformat(),
                "placements": result.placement_ids, "children": result.child_ids, "rows": result.cleared_rows,
                "os_user": _os_user(),
            },
        )
    return result


def _clear(model, source: Source, rows, result: AnonymisationResult, *, dry_run: bool, placement=None) -> set[int]:
    """Clear the source's free text in `rows`; returns the placements whose rows changed."""
    values = {name: _cleared_value(model, name) for name in source.free_text}
    pending = rows.filter(reduce(operator.or_, [~Q(**{name: value}) for name, value in values.items()]))
    placement_ids = set(pending.values_list(placement, flat=True)) if placement else set()
    count = pending.count() if dry_run else pending.update(**values)
    if count:
        result.cleared_rows[model._meta.label] = result.cleared_rows.get(model._meta.label, 0) + count
    return placement_ids


# --- Right of access -------------------------------------------------------------------------------------


def export_person(*, user, now: dt.datetime, by=None) -> dict[str, Any]:
    """Everything stored about one user, as JSON-ready data (dates as ISO strings)."""
    memberships = Membership.objects.filter(user=user).select_related("municipality", "team", "household", "provider")
    household_ids = {m.household_id for m in memberships if m.household_id}
    records: dict[str, list[dict]] = {}
    for model, source in sources():
        if not source.authored_by:
            continue
        rows = model.objects.filter(_any_of(source.authored_by, user)).order_by("pk")
        if rows.exists():
            records[model._meta.label] = [_row(obj) for obj in rows]

    export = {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "user": {
            "id": user.pk, "username": user.get_username(), "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email, "is_active": user.is_active,
            "is_staff": user.is_staff, "date_joined": _iso(user.date_joined), "last_login": _iso(user.last_login),
        },
        "memberships": [
            {
                "id": m.pk, "role": m.role, "municipality": str(m.municipality) if m.municipality_id else None,
                "team": m.team.name if m.team_id else None, "household_id": m.household_id,
                "provider": m.provider.name if m.provider_id else None, "created_at": _iso(m.created_at),
            }
            for m in memberships
        ],
        "households": [
            {
                **_row(household),
                "contacts": [_row(c) for c in ContactPerson.objects.filter(household=household).order_by("pk")],
                "availability": [a.as_spec() for a in household.availability.all()],
            }
            for household in Household.objects.filter(pk__in=household_ids).order_by("pk")
        ],
        "records": records,
        "audit": {
            "by_them": [_audit_row(e) for e in AuditEntry.objects.filter(actor=user).order_by("at", "pk")],
            "about_them": [
                _audit_row(e)
                for e in AuditEntry.objects.filter(object_type="auth.user", object_id=str(user.pk)).order_by("at", "pk")
            ],
        },
        "security": _security_records(user),
    }
    audit.record(
        actor=by, action="privacy.export_person", object_type="auth.user", object_id=str(user.pk),
        details={"os_user": _os_user()},
    )
    return export


def _security_records(user) -> dict[str, Any]:
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.authtoken.models import Token

    token = Token.objects.filter(user=user).first()
    data: dict[str, Any] = {
        "two_factor_devices": [
            {"name": d.name, "confirmed": d.confirmed, "created_at": _iso(getattr(d, "created_at", None)),
             "last_used_at": _iso(getattr(d, "last_used_at", None))}
            for d in TOTPDevice.objects.filter(user=user).order_by("pk")
        ],
        "api_token": {"exists": token is not None, "created": _iso(token.created) if token else None},
        "sign_in_records": [],
    }
    if apps.is_installed("axes"):
        from axes.models import AccessAttempt, AccessLog

        username = user.get_username()
        data["sign_in_records"] = [
            {"kind": "failed", "at": _iso(a.attempt_time), "ip_address": a.ip_address, "failures": a.failures_since_start}
            for a in AccessAttempt.objects.filter(username=username).order_by("attempt_time")
        ] + [
            {"kind": "signed_in", "at": _iso(a.attempt_time), "ip_address": a.ip_address,
             "signed_out_at": _iso(a.logout_time)}
            for a in AccessLog.objects.filter(username=username).order_by("attempt_time")
        ]
    return data


# --- Erasure -----------------------------------------------------------------------------------------------


@dataclass
class DeletionResult:
    user_id: int
    pseudonym: str
    audit_entries: int
    labels: dict[str, int]
    sessions: int


def pseudonym_for(user_id: int) -> str:
    """'deleted-user-<hash>': a keyed hash of the id, so ids cannot be tried to find the person.

    Keyed with CPR_HASH_KEY (which never changes), so the same user always gets the same pseudonym.
    """
    digest = hmac.new(settings.CPR_HASH_KEY.encode(), f"user:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"deleted-user-{digest[:12]}"


def delete_person(*, user, by=None) -> DeletionResult:
    """Delete the account and what hangs on it; pseudonymise it in the audit trail."""
    User = get_user_model()
    if user.is_superuser and not User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk).exists():
        raise DomainError("This is the last active superuser; make another one first.", code="last_superuser")
    user_id, username = user.pk, user.get_username()
    pseudonym = pseudonym_for(user_id)
    with transaction.atomic():
        entries = AuditEntry.objects.filter(actor=user).update(actor=None, actor_label=pseudonym)
        labels: dict[str, int] = {}
        for model, source in sources():
            if source.labels and source.authored_by:
                count = model.objects.filter(_any_of(source.authored_by, user)).update(
                    **dict.fromkeys(source.labels, pseudonym)
                )
                if count:
                    labels[model._meta.label] = count
        _keep_admin_history(user, pseudonym)
        sessions = _delete_sessions(user_id)
        if apps.is_installed("axes"):
            from axes.models import AccessAttempt, AccessFailureLog, AccessLog

            for model in (AccessAttempt, AccessLog, AccessFailureLog):
                model.objects.filter(username=username).delete()
        try:
            user.delete()
        except models.ProtectedError:
            raise DomainError(
                "Other records protect this user from deletion; see the admin for which.", code="protected"
            ) from None
        audit.record(
            actor=by, action="privacy.delete_person", object_type="auth.user", object_id=str(user_id),
            details={"pseudonym": pseudonym, "audit_entries": entries, "labels": labels, "os_user": _os_user()},
        )
    return DeletionResult(user_id=user_id, pseudonym=pseudonym, audit_entries=entries, labels=labels, sessions=sessions)


def _keep_admin_history(user, pseudonym: str) -> None:
    """Django's admin log (LogEntry.user, CASCADE) would vanish with the user: move it to a stand-in."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.models import LogEntry

    entries = LogEntry.objects.filter(user=user)
    if entries.exists():
        User = get_user_model()
        stand_in, _ = User.objects.get_or_create(username=pseudonym, defaults={"is_active": False})
        stand_in.set_unusable_password()
        stand_in.save()
        entries.update(user=stand_in)


def _delete_sessions(user_id: int) -> int:
    doomed = [s.pk for s in Session.objects.all().iterator() if s.get_decoded().get("_auth_user_id") == str(user_id)]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


# --- Helpers -----------------------------------------------------------------------------------------------


def _any_of(fields: tuple[str, ...], user) -> Q:
    q = Q()
    for name in fields:
        q |= Q(**{name: user})
    return q


def _row(obj) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        if _SECRET_FIELD.search(f.name):
            continue
        data[f.attname] = _json_value(getattr(obj, f.attname))
    return data


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": _iso(entry.at), "actor": entry.actor_label, "action": entry.action, "object_type": entry.object_type,
        "object_id": entry.object_id, "municipality_id": entry.municipality_id, "ip": entry.ip, "details": entry.details,
    }


def _json_value(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, str | int | float | bool | list | dict) or value is None:
        return value
    return str(value)  # Decimal, UUID


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
