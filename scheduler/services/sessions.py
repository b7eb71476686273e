"""Session series for accepted assignments: propose, confirm, change, and keep the horizon filled.

The recurrence core (``scheduler.recurrence``) finds the slots; ``scheduler.sessions_plan`` checks
each occurrence against the parties and stores it; ``scheduler.sessions_booking`` holds the
parties' locks and is the one place that decides whether time is free. This module is the
service layer on top: keyword-only functions that validate, write atomically, record who, when
and why in the series' history, and write an audit entry.

Decisions, in one place:

* **Proposals hold their time.** ``propose_series`` stores the series as ``proposed`` with its
  occurrences and bookings, so the next proposal for the same provider sees the slot as taken;
  ``confirm_series`` only flips it to ``active`` (it can never fail on a clash) and
  ``decline_series`` releases it. The consultant decides; the API makes sure only staff of the
  municipality can call confirm/decline. The bulk command may store them active at once.
* **Planned vs. later.** Occurrences that hit a closed day, a known absence or another booking
  when they are planned (at proposal, or when the daily task extends the horizon) are *skipped*:
  an EXDATE on the series and a row with status ``skipped`` and the reason. An absence recorded
  *after* occurrences were planned *flags* them (``needs_attention``) with a proposed
  replacement; ``accept_replacement`` moves them there.
* **SEQUENCE.** Every change to an occurrence bumps the occurrence's and the series' SEQUENCE (the
  calendar object, master plus overrides, changed); changes to the rule bump the series'.
  Confirming does not (no time changed). Extending the horizon bumps only when it adds EXDATEs.
* **Changing from a date on** splits the series (RFC 5545 practice): the old series ends the day
  before with a bumped SEQUENCE, a new series with a new UID continues (``previous`` links them).
  A change whose first 12 weeks clash with other bookings is refused; later clashes are skipped.
* Moves and cancellations of single occurrences are kept as rows (``moved`` / ``cancelled``), which
  are the series' overrides; ``SessionSeries.to_rule()`` rebuilds the full rule from them.
* **Batches.** Proposing works on a batch of needs under one set of party locks (the bulk command
  passes all of one provider's assignments): their bookings are loaded once, each proposal sees
  the ones planned before it, and everything is written in a handful of statements. A single
  ``propose_series`` is a batch of one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q

from calendars import publish as calendar_publish
from scheduler.geo import distance_km
from scheduler.models import (
    BOOKED_STATUSES,
    Booking,
    OccurrenceStatus,
    SeriesChange,
    SeriesKind,
    SeriesStatus,
    SessionOccurrence,
    SessionSeries,
)
from scheduler.recurrence import (
    DANISH_HOLIDAYS,
    DEFAULT_TZ,
    Frequency,
    Interval,
    Party,
    RecurrenceError,
    RespiteSpec,
    SeriesSpec,
    find_series_slot,
    localize,
    occurrence_end,
    respite_blocks,
    split_series,
)
from scheduler.recurrence import end_series as core_end_series
from scheduler.sessions_booking import (
    DEFAULT_SESSION_WINDOWS,
    PartyBook,
    actor,
    actor_label,
    booking_transaction,
    horizon_months,
    key,
    location_of,
    new_bookings,
    provider_absences,
    travel_speed_kmh,
    weekly_windows,
)
from scheduler.sessions_plan import (
    Plan,
    context_in,
    load_context,
    plan_occurrences,
    respite_replacements,
    series_labels,
    series_party_keys,
    session_replacements,
    write_plans,
)
from support import audit
from support.errors import Conflict, DomainError, InvalidTransition
from support.models import AuditEntry, Municipality, NeedStatus, Provider, ProviderAbsence, SupportNeed

RESPITE_SERVICE = "respite"
STRICT_WEEKS = 12  # a change whose first 12 weeks clash is refused, as a proposal would be
CHANGEABLE = (SeriesStatus.PROPOSED, SeriesStatus.ACTIVE)
# Series whose occurrences hold bookings: a proposal holds its time too, and an ended series keeps
# its sessions up to its last date.
RUNNING = (SeriesStatus.PROPOSED, SeriesStatus.ACTIVE, SeriesStatus.ENDED)
NEED_RELATED = ("service", "current_provider__household", "recipient_household", "placement__child")


def _error(exc: RecurrenceError) -> DomainError:
    return DomainError(exc.message, code=exc.code)


def _require_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise DomainError("Say why (the reason is kept in the series' history).", code="reason_required",
                          fields={"reason": ["This field is required."]})
    return reason.strip()


def _months(months: int | None) -> int:
    months = horizon_months() if months is None else months
    if months < 1:
        raise DomainError("The horizon must be at least one month.", code="bad_horizon")
    return months


def _midnight(day: dt.date, tz: ZoneInfo) -> datetime:
    return localize(datetime.combine(day, time()), tz).astimezone(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(f"{name} must include a time zone.", code="naive_datetime", fields={name: ["naive"]})
    return value.astimezone(UTC)


def _load_series(series: SessionSeries, *, lock: bool = False) -> SessionSeries:
    query = SessionSeries.objects.select_related(
        "provider", "household", "host_household", "child", "need", "municipality"
    )
    if lock:
        query = query.select_for_update(of=("self",))
    return query.get(pk=series.pk)


def _history(series, action, *, by, now, reason="", occurrence=None, details=None) -> SeriesChange:
    return SeriesChange.objects.create(
        series=series, occurrence=occurrence, action=action, at=now, by=actor(by), by_label=actor_label(by),
        reason=reason, sequence=occurrence.sequence if occurrence is not None else series.sequence,
        details=details or {},
    )


def _release(rows) -> None:
    Booking.objects.filter(occurrence__in=rows, active=True).update(active=False)


# --- Proposing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RespiteOptions:
    """How respite weekends are shaped; the defaults are Friday 16:00 to Sunday 18:00."""

    every_weeks: int | None = None  # default: from the need's sessions_per_week
    start_day: int = 4
    start_time: time = time(16)
    end_day: int = 6
    end_time: time = time(18)
    children: int = 1


@dataclass(frozen=True)
class _Options:
    months: int
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    remote: bool | None = None
    respite: RespiteOptions | None = None


@dataclass
class _Request:
    """One need to propose for, validated before the locks are taken."""

    need: SupportNeed
    series: SessionSeries  # unsaved, with its parties set
    spec: SeriesSpec | RespiteSpec
    horizon_end: datetime
    search_end: datetime
    details: dict = field(default_factory=dict)


def _check_assigned(need: SupportNeed) -> None:
    if need.status != NeedStatus.ASSIGNED or need.current_provider is None:
        raise InvalidTransition(
            "Sessions are scheduled for accepted assignments only: this need has no accepted provider.",
            code="not_assigned",
        )


def _frequency(need: SupportNeed) -> Frequency:
    try:
        return Frequency.from_sessions_per_week(float(need.sessions_per_week))
    except RecurrenceError as exc:
        raise _error(exc) from None


def _decide_remote(need: SupportNeed, provider: Provider, household, remote: bool | None) -> bool:
    can_be_remote = need.remote_ok and provider.offers_remote
    if remote:
        if not can_be_remote:
            raise DomainError("Remote sessions need both the need and the provider to allow them.", code="not_remote")
        return True
    if remote is None and can_be_remote:
        if not household.has_location:
            return True
        km = distance_km(household.latitude, household.longitude, provider.latitude, provider.longitude)
        if km > provider.max_travel_km:
            return True
    if not household.has_location:
        raise DomainError(
            f"{household.name} has no address coordinates, so in-person sessions cannot be placed.",
            code="no_location",
        )
    return False


def _request(need: SupportNeed, *, by, now: datetime, options: _Options) -> _Request:
    """Validate one need and build its unsaved series and spec (no locks, no writes)."""
    _check_assigned(need)
    provider = need.current_provider
    horizon_end = now + relativedelta(months=options.months)
    series = SessionSeries(
        municipality_id=need.municipality_id, need=need, provider=provider, household=need.recipient_household,
        child=need.placement.child, status=SeriesStatus.PROPOSED, proposed_by=actor(by), created_at=now,
        updated_at=now,
    )
    try:
        if options.respite is not None or need.service.code == RESPITE_SERVICE:
            respite = options.respite or RespiteOptions()
            host = provider.household
            if host is None:
                raise DomainError(f"{provider.name} has no respite household on record.", code="no_respite_household")
            if host.approved_places < 1:
                raise DomainError(f"{host.name} has no approved places.", code="no_places")
            series.kind, series.host_household, series.children = SeriesKind.RESPITE, host, respite.children
            today = now.astimezone(ZoneInfo(host.time_zone)).date()
            spec = RespiteSpec(
                every_weeks=respite.every_weeks or _frequency(need).interval_weeks,
                start_date=max(options.start_date or need.starts_on, today), end_date=options.end_date or need.ends_on,
                start_day=respite.start_day, start_minute=respite.start_time.hour * 60 + respite.start_time.minute,
                end_day=respite.end_day, end_minute=respite.end_time.hour * 60 + respite.end_time.minute,
                children=respite.children, tz=host.time_zone,
            )
            return _Request(need, series, spec, horizon_end, horizon_end + timedelta(weeks=2),
                            {"places": host.approved_places})
        household = need.recipient_household
        series.kind = SeriesKind.SESSIONS
        today = now.astimezone(ZoneInfo(household.time_zone)).date()
        is_remote = _decide_remote(need, provider, household, options.remote)
        spec = SeriesSpec(
            duration_minutes=need.minutes_per_session, frequency=_frequency(need),
            start_date=max(options.start_date or need.starts_on, today), end_date=options.end_date or need.ends_on,
            remote=is_remote, tz=household.time_zone, location=None if is_remote else location_of(household),
        )
    except RecurrenceError as exc:
        raise _error(exc) from None
    search_end = _midnight(spec.start_date, ZoneInfo(spec.tz)) + relativedelta(months=options.months) + timedelta(days=8)
    return _Request(need, series, spec, horizon_end, max(horizon_end, search_end), {"remote": is_remote})


def _propose_sessions(request: _Request, ctx, windows: dict, *, now: datetime) -> Plan:
    series, spec = request.series, request.spec
    provider, household = series.provider, series.household
    provider_key, household_key = ctx.fixed
    provider_party = Party(
        provider_key, windows=windows.get(provider_key, DEFAULT_SESSION_WINDOWS),
        busy=tuple(ctx.book.busy[provider_key].items), absences=tuple(ctx.absences.items),
        location=location_of(provider), tz=provider.time_zone,
    )
    household_party = Party(
        household_key, windows=windows.get(household_key, DEFAULT_SESSION_WINDOWS),
        busy=tuple(ctx.book.busy[household_key].items), location=location_of(household), tz=household.time_zone,
    )
    try:
        # The core finalises (lists skips for) only the first month: plan_occurrences checks
        # every occurrence of the horizon against the same parties anyway.
        found = find_series_slot(
            provider_party, household_party, spec, now=now, travel_speed_kmh=ctx.book.speed,
            holidays=DANISH_HOLIDAYS, materialise_months=1,
        )
    except RecurrenceError as exc:
        raise _error(exc) from None
    if not found.found:
        raise DomainError(f"{found.message} {' '.join(found.details)}".strip(), code=found.code)
    series.store_rule(found.rule)
    return plan_occurrences(
        ctx, found.rule, start=now, end=request.horizon_end,
        known_skips=[(s.original_start, f"{s.reason}: {s.detail}") for s in found.skipped],
    )


def _propose_respite(request: _Request, ctx, *, now: datetime) -> Plan:
    series, spec = request.series, request.spec
    host = series.host_household
    tz = ZoneInfo(host.time_zone)
    existing = [i for k in ctx.places for i in ctx.book.busy[k].items]
    host_party = Party(key("household", host.pk), windows=None, absences=tuple(ctx.absences.items),
                       location=location_of(host), tz=host.time_zone)
    # Only weekends that start inside the horizon may anchor the series.
    first = spec.start_date + timedelta(days=(spec.start_day - spec.start_date.weekday()) % 7)
    last = request.horizon_end.astimezone(tz).date() - timedelta(days=1)
    if last < first:
        raise DomainError(f"No weekend between {first} and {last} to plan.", code="no_free_weekend")
    try:
        found = respite_blocks(household=host_party, places=host.approved_places, spec=spec, existing=existing,
                               now=now, horizon_weeks=(last - first).days // 7)
    except RecurrenceError as exc:
        raise _error(exc) from None
    if not found.found:
        raise DomainError(f"{found.message} {' '.join(found.details)}".strip(), code=found.code)
    series.store_rule(found.rule)
    return plan_occurrences(
        ctx, found.rule, start=now, end=request.horizon_end,
        known_skips=[(s.original_start, f"{s.reason}: {s.detail}") for s in found.skipped],
    )


def _running_need_ids(need_ids: Iterable[int], now: datetime) -> set[int]:
    today = now.astimezone(ZoneInfo(DEFAULT_TZ)).date()
    return set(
        SessionSeries.objects.filter(need_id__in=list(need_ids))
        .filter(Q(status__in=CHANGEABLE) | Q(status=SeriesStatus.ENDED, until__gte=today))
        .values_list("need_id", flat=True)
    )


def _propose_batch(
    needs: Sequence[SupportNeed], *, by, now: datetime, confirm: bool, options: _Options
) -> list[SessionSeries | DomainError]:
    """Propose for every need under one set of locks; each result is a new series or its error."""
    results: list[SessionSeries | DomainError | None] = [None] * len(needs)
    requests: list[tuple[int, _Request]] = []
    for i, need in enumerate(needs):
        try:
            requests.append((i, _request(need, by=by, now=now, options=options)))
        except DomainError as exc:
            results[i] = exc
    if requests:
        labels: dict[str, str] = {}
        for _i, request in requests:
            labels.update(series_labels(request.series)[0])
        with booking_transaction(labels) as party_ids:
            running = _running_need_ids([r.need.pk for _i, r in requests], now)
            end = max(r.search_end for _i, r in requests)
            book = PartyBook(labels, speed=travel_speed_kmh()).load(start=now, end=end)
            absences = provider_absences({r.series.provider_id for _i, r in requests},
                                         start=now - timedelta(days=1), end=end + timedelta(days=1))
            windows = weekly_windows(provider_ids={r.series.provider_id for _i, r in requests},
                                     household_ids={r.series.household_id for _i, r in requests})
            done: list[tuple[int, _Request, Plan]] = []
            for i, request in requests:
                if request.need.pk in running:
                    results[i] = Conflict("This assignment already has a session series.", code="already_scheduled")
                    continue
                series = request.series
                ctx = context_in(series, book, absences.get(series.provider_id, []))
                try:
                    if series.is_respite:
                        plan = _propose_respite(request, ctx, now=now)
                    else:
                        plan = _propose_sessions(request, ctx, windows, now=now)
                except DomainError as exc:
                    results[i] = exc
                    continue
                plan.add_exdates_to(series)
                series.materialised_until = request.horizon_end
                running.add(request.need.pk)  # the same need twice in a batch gets one series
                done.append((i, request, plan))
            _save_new(done, by=by, now=now, confirm=confirm, party_ids=party_ids)
            for i, request, _plan in done:
                results[i] = request.series
    return results  # type: ignore[return-value]


def _save_new(
    done: list[tuple[int, _Request, Plan]], *, by, now: datetime, confirm: bool, party_ids: dict[str, int]
) -> None:
    """Insert new series with their occurrences, bookings, history and audit entries, in bulk."""
    if not done:
        return
    series_list = [request.series for _i, request, _plan in done]
    for series in series_list:
        if confirm:
            series.status = SeriesStatus.ACTIVE
            series.confirmed_by, series.confirmed_at = actor(by), now
    SessionSeries.objects.bulk_create(series_list)
    write_plans([(request.series, plan) for _i, request, plan in done], now, party_ids)
    changes, entries = [], []
    for _i, request, plan in done:
        series = request.series
        series.created_occurrences = plan.booked
        changes.append(SeriesChange(
            series=series, action=SeriesChange.Action.PROPOSED, at=now, by=actor(by), by_label=actor_label(by),
            sequence=0, details={"rrule": series.rrule, "booked": plan.booked, "skipped": len(plan.skipped),
                                 **request.details},
        ))
        if confirm:
            changes.append(SeriesChange(series=series, action=SeriesChange.Action.CONFIRMED, at=now, by=actor(by),
                                        by_label=actor_label(by), sequence=0))
        # The same row support.audit.record() writes, in one statement for the whole batch.
        entries.append(AuditEntry(
            at=now, actor=actor(by), actor_label=actor_label(by), action="session_series.propose",
            object_type=SessionSeries._meta.label_lower, object_id=str(series.pk),
            municipality_id=series.municipality_id,
            details={"need": series.need_id, "confirmed": confirm, "kind": series.kind},
        ))
    SeriesChange.objects.bulk_create(changes)
    AuditEntry.objects.bulk_create(entries)
    if confirm:
        for series in series_list:
            calendar_publish.changed(series=series, by=by, now=now)


def _one(need: SupportNeed, *, by, now: datetime, confirm: bool, options: _Options) -> SessionSeries:
    need = SupportNeed.objects.select_related(*NEED_RELATED).get(pk=need.pk)
    result = _propose_batch([need], by=by, now=now, confirm=confirm, options=options)[0]
    if isinstance(result, DomainError):
        raise result
    return result


def propose_series(
    *,
    need: SupportNeed,
    by,
    now: datetime,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    remote: bool | None = None,
    months: int | None = None,
    confirm: bool = False,
) -> SessionSeries:
    """Find the first slot both the provider and the recipient household can keep, and hold it.

    The series is stored as ``proposed`` with a year of occurrences (``months``) and their
    bookings; the consultant confirms or declines it. ``confirm=True`` (the bulk command's
    ``--confirm``) stores it active at once, with both steps in its history. Respite needs get
    weekend blocks at the provider's respite household (see ``propose_respite``).
    """
    options = _Options(_months(months), start_date, end_date, remote)
    return _one(need, by=by, now=now, confirm=confirm, options=options)


def propose_respite(
    *,
    need: SupportNeed,
    by,
    now: datetime,
    respite: RespiteOptions | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    months: int | None = None,
    confirm: bool = False,
) -> SessionSeries:
    """Respite weekends (støtteophold), Friday 16:00 to Sunday 18:00 by default, every N weeks.

    Blocks are at the provider's respite household, within its approved places: each block
    takes ``children`` of the places ``place:<household>:1..N``, so the database's no-overlap rule
    also guarantees the capacity. A weekend that does not fit moves to a later weekend before
    the next block (a moved occurrence) or is skipped with its reason.
    """
    options = _Options(_months(months), start_date, end_date, respite=respite or RespiteOptions())
    return _one(need, by=by, now=now, confirm=confirm, options=options)


def confirm_series(*, series: SessionSeries, by, now: datetime) -> SessionSeries:
    """The consultant confirms a proposal: it becomes active (its time is already held)."""
    with transaction.atomic():
        locked = SessionSeries.objects.select_for_update().get(pk=series.pk)
        if locked.status != SeriesStatus.PROPOSED:
            raise InvalidTransition(f"Only a proposed series can be confirmed; this one is {locked.status}.")
        locked.status = SeriesStatus.ACTIVE
        locked.confirmed_by, locked.confirmed_at, locked.updated_at = actor(by), now, now
        locked.save(update_fields=["status", "confirmed_by", "confirmed_at", "updated_at"])
        _history(locked, SeriesChange.Action.CONFIRMED, by=by, now=now)
        audit.record(actor=by, action="session_series.confirm", obj=locked)
        calendar_publish.changed(series=locked, by=by, now=now)
    return locked


def decline_series(*, series: SessionSeries, reason: str, by, now: datetime) -> SessionSeries:
    """The consultant declines a proposal: its held time is released, its rows kept for history."""
    reason = _require_reason(reason)
    with transaction.atomic():
        locked = SessionSeries.objects.select_for_update().get(pk=series.pk)
        if locked.status != SeriesStatus.PROPOSED:
            raise InvalidTransition(f"Only a proposed series can be declined; this one is {locked.status}.")
        rows = locked.occurrences.exclude(status=OccurrenceStatus.REMOVED)
        _release(rows)
        rows.update(status=OccurrenceStatus.REMOVED, reason=f"proposal declined: {reason}"[:300], updated_at=now)
        locked.status, locked.updated_at = SeriesStatus.DECLINED, now
        locked.save(update_fields=["status", "updated_at"])
        _history(locked, SeriesChange.Action.DECLINED, by=by, now=now, reason=reason)
        audit.record(actor=by, action="session_series.decline", obj=locked)
        calendar_publish.changed(series=locked, by=by, now=now)
    return locked


# --- Changing one occurrence -------------------------------------------------------------------------------


def _changeable_occurrence(occurrence: SessionOccurrence, now: datetime) -> SessionOccurrence:
    occ = SessionOccurrence.objects.select_for_update().get(pk=occurrence.pk)
    if occ.status not in BOOKED_STATUSES:
        raise InvalidTransition(f"This occurrence is {occ.get_status_display().lower()}; it cannot be changed.")
    if occ.start <= now:
        raise InvalidTransition("This occurrence has already started; past sessions are not changed.")
    return occ


def move_occurrence(
    *,
    occurrence: SessionOccurrence,
    new_start: datetime,
    reason: str,
    by,
    now: datetime,
    new_end: datetime | None = None,
) -> SessionOccurrence:
    """Move one occurrence (it keeps its length unless ``new_end`` is given) if everyone is free.

    Refused on a closed day, during the provider's absence, or when any party is booked then
    (incl. travel time). Outside the weekly windows is allowed: the consultant agreed it with the
    family. Bumps the occurrence's and the series' SEQUENCE; clears an absence flag.
    """
    reason = _require_reason(reason)
    new_start = _aware(new_start, "new_start")
    series = _load_series(occurrence.series)
    if series.status not in RUNNING:
        raise InvalidTransition(f"The series is {series.status}; its occurrences cannot be moved.")
    with booking_transaction(series_party_keys(series)) as party_ids:
        occ = _changeable_occurrence(occurrence, now)
        series = _load_series(series, lock=True)
        end = _aware(new_end, "new_end") if new_end is not None else new_start + (occ.end - occ.start)
        if end <= new_start:
            raise DomainError("The new end must be after the new start.", code="bad_time")
        if new_start < now:
            raise DomainError("An occurrence cannot be moved into the past.", code="in_the_past")
        ctx = load_context(series, start=new_start, end=end, exclude_occurrences=[occ.pk])
        keys, place, problem = ctx.fit(new_start, end, series.location, closed_days=True)
        if problem is not None:
            code, detail = problem
            local = new_start.astimezone(ctx.tz)
            messages = {
                "holiday": f"{local:%d.%m.%Y} is a closed day ({detail}).",
                "absence": f"{detail} at {local:%d.%m.%Y %H:%M}.",
            }
            error = Conflict if code in ("clash", "full") else DomainError
            raise error(messages.get(code, f"{local:%d.%m.%Y %H:%M} is not free: {detail}."), code=code)
        before = {"start": occ.start.isoformat(), "end": occ.end.isoformat()}
        Booking.objects.filter(occurrence=occ, active=True).update(active=False)
        Booking.objects.bulk_create(
            new_bookings(keys, party_ids=party_ids, start=new_start, end=end, location=series.location, occurrence=occ)
        )
        occ.start, occ.end, occ.place = new_start, end, place
        occ.status = OccurrenceStatus.MOVED
        occ.reason = reason[:300]
        occ.sequence += 1
        occ.needs_attention, occ.flag_reason, occ.proposed_start, occ.proposed_end = False, "", None, None
        occ.updated_at = now
        occ.save()
        series.sequence += 1
        series.updated_at = now
        series.save(update_fields=["sequence", "updated_at"])
        _history(series, SeriesChange.Action.OCCURRENCE_MOVED, by=by, now=now, reason=reason, occurrence=occ,
                 details={"from": before, "to": {"start": new_start.isoformat(), "end": end.isoformat()},
                          "series_sequence": series.sequence})
        audit.record(actor=by, action="session_occurrence.move", obj=series, details={"occurrence": occ.pk})
        calendar_publish.changed(series=series, occurrence=occ, by=by, now=now)
    return occ


def cancel_occurrence(*, occurrence: SessionOccurrence, reason: str, by, now: datetime) -> SessionOccurrence:
    """Cancel one occurrence with a reason; its time is released. Bumps both SEQUENCEs."""
    reason = _require_reason(reason)
    series = _load_series(occurrence.series)
    with booking_transaction(series_party_keys(series)):
        occ = _changeable_occurrence(occurrence, now)
        series = _load_series(series, lock=True)
        _release([occ])
        occ.status, occ.reason = OccurrenceStatus.CANCELLED, reason[:300]
        occ.sequence += 1
        occ.needs_attention, occ.flag_reason, occ.proposed_start, occ.proposed_end = False, "", None, None
        occ.updated_at = now
        occ.save()
        series.sequence += 1
        series.updated_at = now
        series.save(update_fields=["sequence", "updated_at"])
        _history(series, SeriesChange.Action.OCCURRENCE_CANCELLED, by=by, now=now, reason=reason, occurrence=occ,
                 details={"series_sequence": series.sequence})
        audit.record(actor=by, action="session_occurrence.cancel", obj=series, details={"occurrence": occ.pk})
        calendar_publish.changed(series=series, occurrence=occ, by=by, now=now)
    return occ


def accept_replacement(*, occurrence: SessionOccurrence, by, now: datetime) -> SessionOccurrence:
    """Move a flagged occurrence to the replacement proposed for it."""
    occ = SessionOccurrence.objects.get(pk=occurrence.pk)
    if not occ.needs_attention or occ.proposed_start is None:
        raise InvalidTransition("No replacement is proposed for this occurrence.", code="no_replacement")
    return move_occurrence(
        occurrence=occ, new_start=occ.proposed_start, new_end=occ.proposed_end,
        reason=f"Replacement: {occ.flag_reason}" if occ.flag_reason else "Replacement", by=by, now=now,
    )


# --- Changing the series ---------------------------------------------------------------------------------


def change_series_from(
    *,
    series: SessionSeries,
    from_date: dt.date,
    reason: str,
    by,
    now: datetime,
    start_time: time | None = None,
    weekdays: Iterable[int] | None = None,
    duration_minutes: int | None = None,
    interval_weeks: int | None = None,
    months: int | None = None,
) -> SessionSeries:
    """Change time, weekdays, length or interval from ``from_date`` on; returns the series in force.

    The old series ends the day before (its SEQUENCE bumps; if nothing was left before, it is
    ``replaced``) and a new series with a new UID continues from the first occurrence on or after
    ``from_date``. Moves and cancellations that still fit the new rule carry over.
    """
    reason = _require_reason(reason)
    months = _months(months)
    series = _load_series(series)
    if series.status not in CHANGEABLE:
        raise InvalidTransition(f"The series is {series.status}; only a proposed or active series can change.")
    tz = ZoneInfo(series.time_zone)
    if from_date < now.astimezone(tz).date():
        raise DomainError("A series can only change from today on.", code="in_the_past")
    if duration_minutes is not None and not 0 < duration_minutes <= 24 * 60:
        raise DomainError("The session length must be 1..1440 minutes.", code="bad_duration")
    horizon_end = now + relativedelta(months=months)
    with booking_transaction(series_party_keys(series)) as party_ids:
        series = _load_series(series, lock=True)
        try:
            before, after = split_series(
                series.to_rule(), from_date=from_date,
                start_minute=None if start_time is None else start_time.hour * 60 + start_time.minute,
                weekdays=weekdays, interval_weeks=interval_weeks,
                duration=None if duration_minutes is None else timedelta(minutes=duration_minutes),
            )
        except RecurrenceError as exc:
            raise _error(exc) from None
        cut = _midnight(from_date, tz)
        old_rows = series.occurrences.filter(original_start__gte=cut).exclude(status=OccurrenceStatus.REMOVED)
        _release(old_rows)
        old_rows.update(status=OccurrenceStatus.REMOVED, reason=f"series changed from {from_date}"[:300], updated_at=now)
        old_status = series.status
        if before is not None:
            series.store_rule(before)
        else:
            series.status = SeriesStatus.REPLACED
        series.sequence += 1
        series.updated_at = now
        series.save()

        new = SessionSeries(
            municipality_id=series.municipality_id, kind=series.kind, need=series.need, provider=series.provider,
            household=series.household, host_household=series.host_household, child=series.child,
            children=series.children, status=old_status, previous=series, proposed_by=series.proposed_by,
            confirmed_by=series.confirmed_by, confirmed_at=series.confirmed_at, created_at=now, updated_at=now,
        )
        new.store_rule(after)
        new.save()
        cancelled = [
            SessionOccurrence(
                series=new, original_start=o.original_start, start=o.original_start,
                end=occurrence_end(after, o.original_start), status=OccurrenceStatus.CANCELLED,
                reason=o.reason[:300], created_at=now, updated_at=now,
            )
            for o in after.overrides if o.cancelled
        ]
        SessionOccurrence.objects.bulk_create(cancelled)
        ctx = load_context(new, start=now, end=horizon_end)
        done = plan_occurrences(
            ctx, after, start=max(now, cut), end=horizon_end,
            existing=[c.original_start for c in cancelled], strict_until=cut + timedelta(weeks=STRICT_WEEKS),
        )
        done.add_exdates_to(new)
        new.materialised_until = horizon_end
        new.save(update_fields=["exdates", "materialised_until"])
        write_plans([(new, done)], now, party_ids)
        changes = {
            "from_date": from_date.isoformat(), "start_time": start_time.isoformat() if start_time else None,
            "weekdays": list(weekdays) if weekdays is not None else None, "duration_minutes": duration_minutes,
            "interval_weeks": interval_weeks,
        }
        _history(series, SeriesChange.Action.CHANGED_FROM, by=by, now=now, reason=reason,
                 details={**changes, "continued_by": new.uid, "rrule": series.rrule})
        _history(new, SeriesChange.Action.CONTINUED, by=by, now=now, reason=reason,
                 details={**changes, "previous": series.uid, "rrule": new.rrule, "booked": done.booked,
                          "skipped": len(done.skipped)})
        audit.record(actor=by, action="session_series.change", obj=new, details={"previous": series.pk})
        calendar_publish.changed(series=series, by=by, now=now)
        calendar_publish.changed(series=new, by=by, now=now)
    return new


def end_series(*, series: SessionSeries, last_date: dt.date, reason: str, by, now: datetime) -> SessionSeries:
    """End an active series after ``last_date`` (inclusive): later occurrences are released."""
    reason = _require_reason(reason)
    series = _load_series(series)
    if series.status not in (SeriesStatus.ACTIVE, SeriesStatus.ENDED):
        raise InvalidTransition(
            f"The series is {series.status}; a proposal is declined rather than ended.", code="not_active"
        )
    tz = ZoneInfo(series.time_zone)
    today = now.astimezone(tz).date()
    if last_date < today - timedelta(days=1):
        raise DomainError("A series can end yesterday at the earliest; past sessions stay as they were.",
                          code="in_the_past")
    with booking_transaction(series_party_keys(series)):
        series = _load_series(series, lock=True)
        cut = _midnight(last_date + timedelta(days=1), tz)
        rows = series.occurrences.filter(original_start__gte=cut, start__gte=now).exclude(
            status=OccurrenceStatus.REMOVED
        )
        _release(rows)
        released = rows.update(status=OccurrenceStatus.REMOVED, reason=f"series ended {last_date}: {reason}"[:300], updated_at=now)
        if last_date >= series.first_date:
            series.store_rule(core_end_series(series.base_rule(), last_date=last_date))
        series.status = SeriesStatus.ENDED
        series.sequence += 1
        series.updated_at = now
        series.save()
        _history(series, SeriesChange.Action.ENDED, by=by, now=now, reason=reason,
                 details={"last_date": last_date.isoformat(), "released": released})
        audit.record(actor=by, action="session_series.end", obj=series, details={"last_date": last_date.isoformat()})
        calendar_publish.changed(series=series, by=by, now=now)
    return series


# --- Absences ------------------------------------------------------------------------------------------------


@dataclass
class AbsenceReport:
    absence: ProviderAbsence
    flagged: list[SessionOccurrence] = field(default_factory=list)
    meetings: list = field(default_factory=list)

    @property
    def without_replacement(self) -> list[SessionOccurrence]:
        return [o for o in self.flagged if o.proposed_start is None]


def record_provider_absence(
    *, provider: Provider, starts_at: datetime, ends_at: datetime, reason: str, by, now: datetime
) -> AbsenceReport:
    """Record a provider's absence and flag every affected session and meeting (see ``flag_absence``)."""
    starts_at, ends_at = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise DomainError("The absence must end after it starts.", code="bad_time", fields={"ends_at": ["before start"]})
    if reason not in ProviderAbsence.Reason.values:
        raise DomainError(f"Unknown absence reason {reason!r}.", code="invalid_reason",
                          fields={"reason": [f"Choose one of: {', '.join(ProviderAbsence.Reason.values)}."]})
    with transaction.atomic():
        absence = ProviderAbsence.objects.create(provider=provider, starts_at=starts_at, ends_at=ends_at, reason=reason)
        audit.record(actor=by, action="provider_absence.create", object_type="support.providerabsence",
                     object_id=str(absence.pk), details={"provider": provider.pk})
        report = flag_absence(absence=absence, by=by, now=now)
    return report


def flag_absence_on_commit(*, absence: ProviderAbsence) -> None:
    """For an absence stored outside ``record_provider_absence`` (the admin pages): flag what it hits
    in the background, once the absence is committed (the task reads the clock and calls ``flag_absence``)."""
    from django_q.tasks import async_task

    absence_id = absence.pk
    transaction.on_commit(lambda: async_task(
        "scheduler.tasks_sessions.flag_provider_absence", absence_id, task_name=f"absence-flag-{absence_id}"
    ))


def flag_absence(*, absence: ProviderAbsence, by, now: datetime) -> AbsenceReport:
    """Flag the provider's booked occurrences during the absence and propose a new slot for each.

    Sessions get the core's ``propose_replacements`` (same week if possible, else the next free
    slot within four weeks, never on a day that already has a session of the series); respite
    blocks get the next weekend within four weeks with a free place. Proposals across series
    avoid each other. Nothing moves until ``accept_replacement``; meetings the provider attends
    are flagged too.
    """
    from scheduler.services.meetings import flag_meetings_for_absence

    report = AbsenceReport(absence=absence)
    start = max(absence.starts_at, now)
    if start >= absence.ends_at:
        return report
    affected = list(
        SessionOccurrence.objects.booked()
        .filter(series__provider_id=absence.provider_id, series__status__in=RUNNING,
                start__lt=absence.ends_at, end__gt=start)
        .order_by("start")
    )
    by_series: dict[int, list[SessionOccurrence]] = defaultdict(list)
    for occ in affected:
        by_series[occ.series_id].append(occ)
    series_list = list(
        SessionSeries.objects.filter(pk__in=by_series).select_related(
            "provider", "household", "host_household", "child"
        ).order_by("pk")
    )
    keys = sorted({k for s in series_list for k in series_party_keys(s)})
    absence_interval = Interval(absence.starts_at, absence.ends_at, None, f"absence:{absence.pk}")
    with booking_transaction(keys):
        proposed_for_provider: list[Interval] = []
        for series in series_list:
            rows = by_series[series.pk]
            window_start = min(r.start for r in rows) - timedelta(days=7)
            window_end = max(r.end for r in rows) + timedelta(weeks=5)
            ctx = load_context(series, start=window_start, end=window_end)
            if series.is_respite:
                proposals = respite_replacements(ctx, rows, now=now)
            else:
                proposals = session_replacements(ctx, rows, absence_interval, proposed_for_provider, now=now,
                                                  start=window_start, end=window_end)
            label = f"{series.provider.name} absent ({absence.reason})"
            for row in rows:
                interval = proposals.get(row.pk)
                row.needs_attention = True
                row.flag_reason = label[:300]
                row.proposed_start = interval.start if interval else None
                row.proposed_end = interval.end if interval else None
                row.updated_at = now
                if interval is not None and not series.is_respite:
                    proposed_for_provider.append(interval)
            SessionOccurrence.objects.bulk_update(
                rows, ["needs_attention", "flag_reason", "proposed_start", "proposed_end", "updated_at"]
            )
            _history(series, SeriesChange.Action.ABSENCE_FLAGGED, by=by, now=now, reason=label, details={
                "absence": absence.pk, "occurrences": [r.pk for r in rows],
                "without_replacement": [r.pk for r in rows if r.proposed_start is None],
            })
            report.flagged += rows
        report.meetings = flag_meetings_for_absence(absence=absence, by=by, now=now)
        audit.record(actor=by, action="provider_absence.flag", object_type="support.providerabsence",
                     object_id=str(absence.pk), details={"occurrences": len(report.flagged),
                                                         "meetings": len(report.meetings)})
    return report


# --- The rolling horizon -----------------------------------------------------------------------------------


@dataclass
class ExtendSummary:
    series: int = 0
    booked: int = 0
    skipped: int = 0


def extend_series(*, series: SessionSeries, now: datetime, months: int | None = None) -> Plan:
    """Materialise a series up to ``now + months``; idempotent (occurrences are keyed by RECURRENCE-ID)."""
    months = _months(months)
    target = now + relativedelta(months=months)
    series = _load_series(series)
    with booking_transaction(series_party_keys(series)) as party_ids:
        series = _load_series(series, lock=True)
        if series.status not in RUNNING or (series.materialised_until and series.materialised_until >= target):
            return Plan()
        start = max(series.materialised_until or now, now)
        rule = series.to_rule()
        existing = series.occurrences.filter(original_start__gte=start - rule.duration - timedelta(days=1))
        ctx = load_context(series, start=start, end=target)
        done = plan_occurrences(ctx, rule, start=start, end=target,
                                existing=existing.values_list("original_start", flat=True))
        write_plans([(series, done)], now, party_ids)
        done.add_exdates_to(series)
        series.materialised_until = target
        fields = ["exdates", "materialised_until"]
        if done.skipped:
            series.sequence += 1  # new EXDATEs change the calendar object
            series.updated_at = now
            fields += ["sequence", "updated_at"]
        series.save(update_fields=fields)
        if done.skipped:
            _history(series, SeriesChange.Action.EXTENDED, by=None, now=now, reason="Horizon extended", details={
                "until": target.isoformat(), "booked": done.booked,
                "skipped": [f"{start.isoformat()} {reason}" for start, reason in done.skipped],
            })
            calendar_publish.changed(series=series, by=None, now=now)
    return done


def extend_horizons(*, now: datetime, months: int | None = None) -> ExtendSummary:
    """Roll every running series' horizon forward (the daily django-q2 task calls this)."""
    months = _months(months)
    target = now + relativedelta(months=months)
    summary = ExtendSummary()
    due = (
        SessionSeries.objects.filter(status__in=RUNNING)
        .filter(Q(materialised_until__isnull=True) | Q(materialised_until__lt=target))
        .filter(Q(until__isnull=True) | Q(until__gte=(now - timedelta(days=1)).date()))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in list(due):
        done = extend_series(series=SessionSeries(pk=pk), now=now, months=months)
        summary.series += 1
        summary.booked += done.booked
        summary.skipped += len(done.skipped)
    return summary


# --- Bulk ----------------------------------------------------------------------------------------------------


@dataclass
class ScheduleSummary:
    considered: int = 0
    proposed: int = 0
    confirmed: int = 0
    occurrences: int = 0
    already_scheduled: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)


BATCH_SIZE = 25  # needs of one provider proposed under one set of locks


def needs_to_schedule(*, municipality: Municipality, now: datetime):
    """Assigned needs in the municipality without a running series, most urgent first."""
    today = now.astimezone(ZoneInfo(DEFAULT_TZ)).date()
    scheduled = SessionSeries.objects.filter(
        Q(status__in=CHANGEABLE) | Q(status=SeriesStatus.ENDED, until__gte=today)
    ).values("need_id")
    return (
        SupportNeed.objects.filter(
            municipality=municipality, status=NeedStatus.ASSIGNED, current_provider__isnull=False
        )
        .exclude(pk__in=scheduled)
        .select_related(*NEED_RELATED)
        .order_by("-priority", "starts_on", "pk")
    )


def _batches(needs: list[SupportNeed]) -> list[list[SupportNeed]]:
    """Needs grouped by provider (the most urgent provider first), in chunks of ``BATCH_SIZE``."""
    by_provider: dict[int, list[SupportNeed]] = {}
    for need in needs:
        by_provider.setdefault(need.current_provider_id, []).append(need)
    return [group[i : i + BATCH_SIZE] for group in by_provider.values() for i in range(0, len(group), BATCH_SIZE)]


def _schedule_batch(batch: list[SupportNeed], *, by, now: datetime, confirm: bool, options: _Options) -> list:
    try:
        return _propose_batch(batch, by=by, now=now, confirm=confirm, options=options)
    except DomainError:
        results = []
        for need in batch:
            try:
                results.append(_one(need, by=by, now=now, confirm=confirm, options=options))
            except DomainError as exc:
                results.append(exc)
        return results


def _in_threads(batches: list[list[SupportNeed]], workers: int, **kwargs) -> list[list]:
    """Run ``_schedule_batch`` over the batches in ``workers`` threads, each with its own connection."""
    import threading

    from django.db import connections

    results: list[list | None] = [None] * len(batches)
    pending = list(enumerate(batches))
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            while True:
                with lock:
                    if not pending or errors:
                        return
                    i, batch = pending.pop(0)
                results[i] = _schedule_batch(batch, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connections

    threads = [threading.Thread(target=work, name=f"schedule-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]


def schedule_assignments(
    *,
    municipality: Municipality,
    by,
    now: datetime,
    confirm: bool = False,
    months: int | None = None,
    workers: int = 1,
) -> ScheduleSummary:
    """Propose (and with ``confirm`` activate) a series for every assigned need that has none.

    Needs go in batches per provider, most urgent first; a need that cannot be placed is
    reported and the rest go on. If a batch fails as a whole (say, someone booked one of its
    parties meanwhile), its needs are retried one by one. ``workers > 1`` runs batches in that
    many threads, each with its own connection (PostgreSQL only), so one computes while another
    waits for the database; batches that share a household wait for each other's locks.
    """
    from django.db import connection

    options = _Options(_months(months))
    summary = ScheduleSummary()
    summary.already_scheduled = SupportNeed.objects.filter(
        municipality=municipality, status=NeedStatus.ASSIGNED, session_series__status__in=CHANGEABLE
    ).distinct().count()
    needs = list(needs_to_schedule(municipality=municipality, now=now))
    summary.considered = len(needs)
    batches = _batches(needs)
    kwargs = {"by": by, "now": now, "confirm": confirm, "options": options}
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        outcomes = _in_threads(batches, workers, **kwargs)
    else:
        outcomes = [_schedule_batch(batch, **kwargs) for batch in batches]
    for batch, results in zip(batches, outcomes, strict=True):
        for need, result in zip(batch, results, strict=True):
            if isinstance(result, DomainError):
                summary.failures.append((need.pk, result.code, result.message))
            else:
                summary.proposed += 1
                summary.confirmed += int(confirm)
                summary.occurrences += result.created_occurrences
    return summary


__all__ = [
    "AbsenceReport",
    "ExtendSummary",
    "ScheduleSummary",
    "accept_replacement",
    "cancel_occurrence",
    "change_series_from",
    "confirm_series",
    "decline_series",
    "end_series",
    "extend_horizons",
    "extend_series",
    "flag_absence",
    "flag_absence_on_commit",
    "move_occurrence",
    "needs_to_schedule",
    "propose_respite",
    "RespiteOptions",
    "propose_series",
    "record_provider_absence",
    "schedule_assignments",
    "series_party_keys",
]
