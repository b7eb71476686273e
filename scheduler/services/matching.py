"""Matching runs and the consultant's decisions on their proposals.

The engine suggests; the consultant decides. A run only ever writes proposals for needs that are
still open or proposed: accepted assignments are never touched, and every decision is kept.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from scheduler.instance_export import NO_COORDINATES, build_instance, key_to_pk, need_key, provider_key
from scheduler.matching_adapter import check_pair, solve_document
from scheduler.models import (
    ACTIVE_RUN_STATUSES,
    MatchingRun,
    Proposal,
    ProposalStatus,
    RunStatus,
    UnmatchedNeed,
)
from scheduler.reason_text import QUEUE_DOWN_ERROR, STALE_RUN_ERROR, names_for, pair_refusal, solving_message
from support import audit
from support.errors import Conflict, DomainError, ServiceUnavailable
from support.models import Municipality, NeedStatus, Provider, SupportNeed

log = logging.getLogger(__name__)

# A run still "running" this long after its time limit lost its worker (killed, machine restarted).
STALE_AFTER = dt.timedelta(minutes=10)
MIN_TIME_LIMIT, MAX_TIME_LIMIT = 1, 600  # seconds the solver may search


def time_limit_message() -> str:
    """What is wrong with a time limit out of range, in the active language (the API says it too)."""
    return _("The time limit must be between %(min)s and %(max)s seconds.") % {
        "min": MIN_TIME_LIMIT, "max": MAX_TIME_LIMIT,
    }


# --- Starting and executing runs -------------------------------------------------------------------------


def start_matching_run(
    *, municipality: Municipality, by, now: dt.datetime, time_limit_seconds: float = 30.0
) -> MatchingRun:
    """Queue a matching run for the municipality; a second run while one is active is refused."""
    if not MIN_TIME_LIMIT <= time_limit_seconds <= MAX_TIME_LIMIT:
        message = time_limit_message()
        raise DomainError(message, fields={"time_limit_seconds": [message]})
    _fail_stale_runs(municipality=municipality, now=now)
    try:
        with transaction.atomic():
            run = MatchingRun.objects.create(
                municipality=municipality, started_by=by if getattr(by, "is_authenticated", False) else None,
                time_limit_seconds=time_limit_seconds, progress_message="Queued",
            )
            audit.record(actor=by, action="matching_run.start", obj=run)
            transaction.on_commit(lambda: _enqueue(run.pk))
    except IntegrityError:
        active = MatchingRun.objects.filter(municipality=municipality, status__in=ACTIVE_RUN_STATUSES).first()
        who = active.started_by.username if active and active.started_by else _("someone")
        when = timezone.localtime(active.created_at).strftime("%H:%M") if active else "?"
        raise Conflict(
            _(
                "A matching run for %(municipality)s is already in progress (started %(time)s by %(person)s). "
                "Wait for it to finish."
            ) % {"municipality": municipality.name, "time": when, "person": who},
            code="run_in_progress",
        ) from None
    run.refresh_from_db(fields=["status", "error"])
    if run.status == RunStatus.FAILED and run.error == QUEUE_DOWN_ERROR:
        raise ServiceUnavailable(
            _("The matching run could not start: the task queue cannot be reached. Try again in a moment."),
            code="queue_unavailable",
        )
    return run


def _enqueue(run_id: int) -> None:
    """Hand the run to django-q2 (after the commit). With the broker down the run is marked failed
    at once, with a reason the consultant can act on: left queued it would block the municipality's
    next run until it counted as stale."""
    from django_q.tasks import async_task

    try:
        async_task("scheduler.tasks.run_matching", run_id, task_name=f"matching-run-{run_id}")
    except Exception as exc:
        log.warning("matching run %s could not be queued: %s", run_id, exc.__class__.__name__)
        MatchingRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=QUEUE_DOWN_ERROR, progress_message="Failed"
        )


def _fail_stale_runs(*, municipality: Municipality, now: dt.datetime) -> None:
    for run in MatchingRun.objects.filter(municipality=municipality, status__in=ACTIVE_RUN_STATUSES):
        started = run.started_at or run.created_at
        if now - started > dt.timedelta(seconds=run.time_limit_seconds) + STALE_AFTER:
            MatchingRun.objects.filter(pk=run.pk, status=run.status).update(
                status=RunStatus.FAILED, finished_at=now, error=STALE_RUN_ERROR
            )


def _progress(run: MatchingRun, percent: int, message: str) -> None:
    MatchingRun.objects.filter(pk=run.pk).update(progress=percent, progress_message=message)


def execute_matching_run(*, run_id: int, now: dt.datetime | None = None) -> MatchingRun:
    """Export, solve and store proposals. Called by the django-q2 task; safe to call once per run."""
    claimed = MatchingRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=now or timezone.now(), progress=5, progress_message="Exporting"
    )
    run = MatchingRun.objects.select_related("municipality").get(pk=run_id)
    if not claimed:
        return run  # already taken by another worker, or finished
    try:
        instance, skipped = build_instance(
            municipality=run.municipality, name=f"{run.municipality.code}-run-{run.pk}"
        )
        run.instance = instance
        MatchingRun.objects.filter(pk=run.pk).update(instance=instance)
        _progress(run, 20, solving_message(needs=len(instance["needs"]), providers=len(instance["providers"])))
        result = solve_document(instance, time_limit=run.time_limit_seconds)
        _progress(run, 90, "Saving proposals")
        _store_result(run=run, result=result, skipped=skipped, now=now or timezone.now())
    except Exception as exc:
        log.exception("matching run %s failed", run_id)
        MatchingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=f"{exc.__class__.__name__}: {exc}"[:2000],
            progress_message="Failed",
        )
    run.refresh_from_db()
    return run


def _store_result(*, run: MatchingRun, result: dict, skipped: list[tuple[int, str]], now: dt.datetime) -> None:
    with transaction.atomic():
        # Lock the needs this run covers so a decision made meanwhile is not overwritten.
        need_ids = [key_to_pk(a["need"]) for a in result["assignments"]] + [
            key_to_pk(u["need"]) for u in result["unassigned"]
        ] + [pk for pk, _reason in skipped]
        needs = {
            n.pk: n for n in SupportNeed.objects.select_for_update().filter(pk__in=need_ids)
        }
        still_matchable = {pk for pk, n in needs.items() if n.status in (NeedStatus.OPEN, NeedStatus.PROPOSED)}
        # Older pending proposals for these needs are superseded, never deleted.
        Proposal.objects.filter(need_id__in=still_matchable, status=ProposalStatus.PENDING).update(
            status=ProposalStatus.SUPERSEDED, decided_at=now
        )
        proposals = []
        for assignment in result["assignments"]:
            pk = key_to_pk(assignment["need"])
            if pk not in still_matchable:
                continue
            proposals.append(
                Proposal(
                    run=run, need_id=pk, provider_id=key_to_pk(assignment["provider"]),
                    score=assignment["score"], terms=assignment.get("terms", {}),
                )
            )
        Proposal.objects.bulk_create(proposals)
        proposed_ids = {p.need_id for p in proposals}
        SupportNeed.objects.filter(pk__in=proposed_ids).update(status=NeedStatus.PROPOSED)
        SupportNeed.objects.filter(pk__in=still_matchable - proposed_ids).update(status=NeedStatus.OPEN)
        unmatched = [
            UnmatchedNeed(run=run, need_id=key_to_pk(u["need"]), reasons=u["reasons"], details=u.get("details", []))
            for u in result["unassigned"] if key_to_pk(u["need"]) in still_matchable
        ] + [
            UnmatchedNeed(run=run, need_id=pk, reasons=[reason], details=_skipped_details(reason))
            for pk, reason in skipped if pk in still_matchable
        ]
        UnmatchedNeed.objects.bulk_create(unmatched)
        MatchingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.DONE, finished_at=now, progress=100, progress_message="Done", result=result,
            solver_status=result["status"], objective=result["objective"], bound=result["bound"],
        )


def _skipped_details(reason: str) -> list[dict]:
    # The export's one reason for leaving a need out, as a detail the pages can translate.
    return [{"code": "no_coordinates", "params": {}}] if reason == NO_COORDINATES else []


# --- Decisions ------------------------------------------------------------------------------------------------


def _locked_pending(proposal: Proposal) -> Proposal:
    locked = Proposal.objects.select_for_update().select_related("need", "provider").get(pk=proposal.pk)
    if locked.status != ProposalStatus.PENDING:
        raise Conflict(
            _("This proposal was already decided (%(decision)s).") % {"decision": locked.get_status_display().lower()},
            code="already_decided",
        )
    if locked.need.status not in (NeedStatus.OPEN, NeedStatus.PROPOSED):
        raise Conflict(_("The need is no longer waiting for a provider."), code="need_not_open")
    return locked


def accept_proposal(*, proposal: Proposal, by, now: dt.datetime) -> Proposal:
    """Accept: the provider becomes the need's current provider (and the next run's continuity)."""
    with transaction.atomic():
        locked = _locked_pending(proposal)
        _assign(need=locked.need, provider=locked.provider, by=by)
        locked.status = ProposalStatus.ACCEPTED
        locked.decided_by, locked.decided_at = by, now
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        audit.record(actor=by, action="proposal.accept", obj=locked.need, details={"provider": locked.provider_id})
    return locked


def reject_reason_message() -> str:
    """What a rejection without a reason is told, in the active language (the forms say it too)."""
    return _("Say why the proposal is rejected.")


def reject_proposal(*, proposal: Proposal, reason: str, by, now: dt.datetime) -> Proposal:
    """Reject with a reason; the pair is excluded from later runs."""
    if not reason.strip():
        message = reject_reason_message()
        raise DomainError(message, fields={"reason": [message]})
    with transaction.atomic():
        locked = _locked_pending(proposal)
        locked.need.excluded_providers.add(locked.provider)
        SupportNeed.objects.filter(pk=locked.need_id).update(status=NeedStatus.OPEN)
        locked.status = ProposalStatus.REJECTED
        locked.decided_by, locked.decided_at, locked.decision_reason = by, now, reason.strip()
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        audit.record(actor=by, action="proposal.reject", obj=locked.need, details={"provider": locked.provider_id})
    return locked


def override_proposal(*, proposal: Proposal, provider: Provider, reason: str, by, now: dt.datetime) -> Proposal:
    """Assign another provider than proposed; the hard rules are still checked."""
    with transaction.atomic():
        locked = _locked_pending(proposal)
        broken = pair_violations(need=locked.need, provider=provider)
        if broken:
            raise Conflict(_refusal(locked.need, provider, broken), code="hard_rule_broken")
        _assign(need=locked.need, provider=provider, by=by)
        locked.status = ProposalStatus.OVERRIDDEN
        locked.override_provider = provider
        locked.decided_by, locked.decided_at, locked.decision_reason = by, now, reason.strip()
        locked.save(update_fields=["status", "override_provider", "decided_by", "decided_at", "decision_reason"])
        audit.record(
            actor=by, action="proposal.override", obj=locked.need,
            details={"proposed": locked.provider_id, "chosen": provider.pk},
        )
    return locked


def _assign(*, need: SupportNeed, provider: Provider, by) -> None:
    # Lock the provider row so two consultants cannot both fill its last capacity.
    Provider.objects.select_for_update().filter(pk=provider.pk).first()
    broken = pair_violations(need=need, provider=provider)
    if broken:
        raise Conflict(_refusal(need, provider, broken, still=True), code="hard_rule_broken")
    SupportNeed.objects.filter(pk=need.pk).update(current_provider=provider, status=NeedStatus.ASSIGNED)


def _refusal(need: SupportNeed, provider: Provider, broken: list[dict], *, still: bool = False) -> str:
    # In the request's language: the consultant reads it on the override form or in the API error.
    names = names_for([broken], municipality_id=need.municipality_id, language=get_language() or "da")
    return pair_refusal(provider_name=provider.name, problems=broken, names=names, still=still)


def pair_violations(*, need: SupportNeed, provider: Provider) -> list[dict]:
    """Every hard rule of the spec that assigning `need` to `provider` now would break.

    As `{"code", "params"}` details; scheduler.reason_text.pair_problem_text says them in words.
    """
    if not provider.municipalities.filter(pk=need.municipality_id).exists():
        return [{"code": "pair_municipality", "params": {}}]
    instance, _skipped = build_instance(municipality=need.municipality, name="pair-check")
    need_doc = next((n for n in instance["needs"] if n["id"] == need_key(need.pk)), None)
    provider_doc = next((p for p in instance["providers"] if p["id"] == provider_key(provider.pk)), None)
    if need_doc is None:
        return [{"code": "pair_need_not_open", "params": {}}]
    if provider_doc is None:
        return [{"code": "pair_inactive", "params": {}}]
    broken = check_pair(need_doc, provider_doc)
    # Needs kept separate from this one must not share the provider, whatever their status.
    partners = need.separate_from.filter(current_provider=provider, status=NeedStatus.ASSIGNED)
    if partners.exists():
        broken.append({"code": "pair_separated", "params": {}})
    return broken
