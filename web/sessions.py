"""Consultant pages for session scheduling: proposals to confirm, series, occurrences, absences, meetings.

Reads go through ``for_user`` narrowed to the municipalities where the reader is staff (another
municipality's series answers 404); writes are for consultants of the object's municipality
(team leads read: 403) and call one service in ``scheduler.services``. A form that does not
validate is shown again with its field errors (400); a service's ``DomainError`` becomes a
message on the page the consultant came from, never a 500.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from api.scoping import consultant_municipality_ids
from scheduler.models import (
    Meeting,
    MeetingKind,
    OccurrenceStatus,
    SeriesStatus,
    SessionOccurrence,
    SessionSeries,
)
from scheduler.services import meetings as meeting_services
from scheduler.services import sessions as session_services
from support.errors import DomainError
from support.models import Placement, Provider, ProviderAbsence, SupportNeed
from support.roles import scope_for
from web.access import staff_municipalities
from web.display import local_name
from web.forms import DomainErrorForm

CPH = ZoneInfo("Europe/Copenhagen")
WEEKDAY_CHOICES = [
    (0, gettext_lazy("Monday")), (1, gettext_lazy("Tuesday")), (2, gettext_lazy("Wednesday")),
    (3, gettext_lazy("Thursday")), (4, gettext_lazy("Friday")), (5, gettext_lazy("Saturday")),
    (6, gettext_lazy("Sunday")),
]
UPCOMING_SHOWN = 40


# --- Forms ------------------------------------------------------------------------------------------------


def _local_input(**attrs):
    return forms.DateTimeInput(attrs={"type": "datetime-local", **attrs}, format="%Y-%m-%dT%H:%M")


class ReasonForm(DomainErrorForm):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=gettext_lazy("Kept in the history."))


class MoveForm(ReasonForm):
    new_start = forms.DateTimeField(label=gettext_lazy("New start"), widget=_local_input())


class ChangeFromForm(ReasonForm):
    from_date = forms.DateField(label=gettext_lazy("From date"), widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(label=gettext_lazy("New start time"), required=False,
                                 widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    weekdays = forms.TypedMultipleChoiceField(label=gettext_lazy("New weekdays"), choices=WEEKDAY_CHOICES,
                                              coerce=int, required=False, widget=forms.CheckboxSelectMultiple)
    duration_minutes = forms.IntegerField(label=gettext_lazy("New length (minutes)"), min_value=1, max_value=1440,
                                          required=False)
    interval_weeks = forms.IntegerField(label=gettext_lazy("Every N weeks"), min_value=1, max_value=52,
                                        required=False)
    field_order = ["from_date", "start_time", "weekdays", "duration_minutes", "interval_weeks", "reason"]

    def clean(self):
        data = super().clean()
        if not any(data.get(name) for name in ("start_time", "weekdays", "duration_minutes", "interval_weeks")):
            raise forms.ValidationError(_("Say what changes: the time, the weekdays, the length or the interval."))
        return data


class EndForm(ReasonForm):
    last_date = forms.DateField(label=gettext_lazy("Last date with sessions"),
                                widget=forms.DateInput(attrs={"type": "date"}))
    field_order = ["last_date", "reason"]


class AbsenceForm(DomainErrorForm):
    provider = forms.ModelChoiceField(queryset=Provider.objects.none(), label=gettext_lazy("Provider"))
    starts_at = forms.DateTimeField(label=gettext_lazy("Absent from"), widget=_local_input())
    ends_at = forms.DateTimeField(label=gettext_lazy("Absent until"), widget=_local_input())
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=ProviderAbsence.Reason.choices)

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The absence must end after it starts."))
        return data


class MeetingSearchForm(DomainErrorForm):
    placement = forms.ModelChoiceField(queryset=Placement.objects.none(), label=gettext_lazy("Placement"))
    kind = forms.ChoiceField(label=gettext_lazy("Meeting"), choices=MeetingKind.choices)
    window_start = forms.DateTimeField(label=gettext_lazy("Earliest"), widget=_local_input())
    window_end = forms.DateTimeField(label=gettext_lazy("Latest"), widget=_local_input())
    duration_minutes = forms.IntegerField(label=gettext_lazy("Length (minutes)"), min_value=15,
                                          max_value=meeting_services.MAX_DURATION_MINUTES, initial=60)
    include_child = forms.BooleanField(label=gettext_lazy("Invite the child"), required=False)

    def __init__(self, *args, placements, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["placement"].queryset = placements
        self.fields["placement"].label_from_instance = lambda p: p.child.display_name

    def clean(self):
        data = super().clean()
        if data.get("window_start") and data.get("window_end"):
            if data["window_end"] <= data["window_start"]:
                self.add_error("window_end", _("The window must end after it starts."))
            elif data["window_end"] - data["window_start"] > dt.timedelta(days=92):
                self.add_error("window_end", _("Search at most three months at a time."))
        return data


class BookForm(MeetingSearchForm):
    start = forms.DateTimeField(widget=forms.HiddenInput)
    allow_missing = forms.BooleanField(required=False, widget=forms.HiddenInput)


# --- Helpers ------------------------------------------------------------------------------------------------


def _staff_ids(user) -> frozenset[int]:
    ids = scope_for(user).staff_municipality_ids
    if not ids:
        staff_municipalities(user)  # raises 404 for people who are not staff anywhere
    return ids


def _series_for(request, series_id: int) -> SessionSeries:
    return get_object_or_404(
        SessionSeries.objects.for_user(request.user).filter(municipality_id__in=_staff_ids(request.user))
        .select_related("need__service", "provider", "household", "host_household", "child", "previous"),
        pk=series_id,
    )


def _check_writer(request, municipality_id: int) -> None:
    if municipality_id not in consultant_municipality_ids(request.user):
        raise PermissionDenied(_("Only the municipality's consultants can change this."))


def _series_url(series: SessionSeries) -> str:
    return reverse("web:sessions-series", kwargs={"series_id": series.pk})


def _index_url() -> str:
    return reverse("web:sessions")


def _back(request, series: SessionSeries) -> str:
    """Where a decision returns to: the overview when it was made there, else the series' page."""
    return _index_url() if request.POST.get("next") == "index" else _series_url(series)


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value, CPH) if timezone.is_naive(value) else value


def _fail(request, exc: DomainError, to: str):
    messages.error(request, exc.message)
    return redirect(to)


def _describe(series: SessionSeries) -> dict:
    days = ", ".join(str(label) for value, label in WEEKDAY_CHOICES if value in series.weekdays)
    minutes = int(series.duration.total_seconds() // 60)
    return {
        "series": series, "service": local_name(series.need.service), "days": days,
        "time": f"{series.start_minute // 60:02d}:{series.start_minute % 60:02d}", "minutes": minutes,
    }


# --- Overview: assignments awaiting a series, proposals, flagged sessions ------------------------------------


@never_cache
@login_required
@require_GET
def index(request):
    staff = _staff_ids(request.user)
    now = timezone.now()
    writable = consultant_municipality_ids(request.user)
    waiting = []
    for municipality in staff_municipalities(request.user):
        needs = session_services.needs_to_schedule(municipality=municipality, now=now).filter(
            pk__in=SupportNeed.objects.for_user(request.user).values("pk")
        )
        waiting += [(need, local_name(need.service)) for need in needs[:100]]
    series = (
        SessionSeries.objects.for_user(request.user).filter(municipality_id__in=staff)
        .select_related("need__service", "provider", "household", "child")
    )
    proposed = [_describe(s) for s in series.filter(status=SeriesStatus.PROPOSED).order_by("first_date", "pk")]
    active = [_describe(s) for s in series.filter(status=SeriesStatus.ACTIVE).order_by("child__display_name", "pk")]
    flagged = (
        SessionOccurrence.objects.for_user(request.user).filter(series__municipality_id__in=staff, needs_attention=True)
        .booked().select_related("series__provider", "series__child").order_by("start")
    )
    return render(request, "sessions/index.html", {
        "waiting": waiting, "proposed": proposed, "active": active, "flagged": flagged,
        "decline_form": ReasonForm(), "can_write": bool(writable),
    })


@never_cache
@login_required
@require_POST
def propose(request, need_id: int):
    need = get_object_or_404(
        SupportNeed.objects.for_user(request.user).filter(municipality_id__in=_staff_ids(request.user)), pk=need_id
    )
    _check_writer(request, need.municipality_id)
    try:
        series = session_services.propose_series(need=need, by=request.user, now=timezone.now())
    except DomainError as exc:
        return _fail(request, exc, _index_url())
    messages.success(request, _("Proposed: check the time and confirm it."))
    return redirect(_series_url(series))


@never_cache
@login_required
@require_POST
def decide(request, series_id: int, action: str):
    series = _series_for(request, series_id)
    _check_writer(request, series.municipality_id)
    back = _back(request, series)
    try:
        if action == "confirm":
            session_services.confirm_series(series=series, by=request.user, now=timezone.now())
            messages.success(request, _("The series is confirmed and in everyone's calendar."))
        else:
            form = ReasonForm(request.POST)
            if not form.is_valid():
                return _render_series(request, series, failed={"decline": form}, status=400)
            session_services.decline_series(series=series, reason=form.cleaned_data["reason"], by=request.user,
                                            now=timezone.now())
            messages.success(request, _("The proposal is declined and its time released."))
    except DomainError as exc:
        return _fail(request, exc, back)
    return redirect(back)


# --- One series ---------------------------------------------------------------------------------------------------


def _render_series(request, series: SessionSeries, *, failed: dict | None = None, failed_occurrence=None,
                   status: int = 200):
    failed = failed or {}
    now = timezone.now()
    upcoming = list(
        series.occurrences.filter(end__gt=now).exclude(status=OccurrenceStatus.REMOVED).order_by("start")[:UPCOMING_SHOWN]
    )
    for occ in upcoming:
        occ.move_form = MoveForm(prefix=f"o{occ.pk}m")
        occ.cancel_form = ReasonForm(prefix=f"o{occ.pk}c")
        if failed_occurrence is not None and occ.pk == failed_occurrence:
            for name, form in failed.items():
                setattr(occ, f"{name}_form", form)
            occ.open_form = next(iter(failed), "")
    history = series.changes.select_related("occurrence").order_by("-at", "-pk")
    return render(request, "sessions/series.html", {
        **_describe(series), "upcoming": upcoming, "history": history,
        "can_write": series.municipality_id in consultant_municipality_ids(request.user),
        "decline_form": failed.get("decline") if failed_occurrence is None and "decline" in failed else ReasonForm(),
        "change_form": failed.get("change") if failed_occurrence is None and "change" in failed else ChangeFromForm(),
        "end_form": failed.get("end") if failed_occurrence is None and "end" in failed else EndForm(),
        "open_form": next(iter(failed), "") if failed_occurrence is None else "",
        "next_series": series.next_series.order_by("pk").first(),
    }, status=status)


@never_cache
@login_required
@require_GET
def series_detail(request, series_id: int):
    return _render_series(request, _series_for(request, series_id))


@never_cache
@login_required
@require_POST
def change_series(request, series_id: int, action: str):
    series = _series_for(request, series_id)
    _check_writer(request, series.municipality_id)
    form = (ChangeFromForm if action == "change" else EndForm)(request.POST)
    if not form.is_valid():
        return _render_series(request, series, failed={action: form}, status=400)
    data = form.cleaned_data
    try:
        if action == "change":
            series = session_services.change_series_from(
                series=series, from_date=data["from_date"], reason=data["reason"], by=request.user,
                now=timezone.now(), start_time=data["start_time"], weekdays=data["weekdays"] or None,
                duration_minutes=data["duration_minutes"], interval_weeks=data["interval_weeks"],
            )
            messages.success(request, _("The series is changed from %(date)s.") % {"date": data["from_date"]})
        else:
            session_services.end_series(series=series, last_date=data["last_date"], reason=data["reason"],
                                        by=request.user, now=timezone.now())
            messages.success(request, _("The series ends after %(date)s.") % {"date": data["last_date"]})
    except DomainError as exc:
        return _fail(request, exc, _series_url(series))
    return redirect(_series_url(series))


@never_cache
@login_required
@require_POST
def change_occurrence(request, series_id: int, occurrence_id: int, action: str):
    series = _series_for(request, series_id)
    occurrence = get_object_or_404(series.occurrences.all(), pk=occurrence_id)
    _check_writer(request, series.municipality_id)
    now = timezone.now()
    try:
        if action == "accept":
            session_services.accept_replacement(occurrence=occurrence, by=request.user, now=now)
            messages.success(request, _("The session is moved to the proposed time."))
        else:
            form = (MoveForm if action == "move" else ReasonForm)(request.POST, prefix=f"o{occurrence.pk}{action[0]}")
            if not form.is_valid():
                return _render_series(request, series, failed={action: form}, failed_occurrence=occurrence.pk,
                                      status=400)
            if action == "move":
                session_services.move_occurrence(occurrence=occurrence, new_start=_aware(form.cleaned_data["new_start"]),
                                                 reason=form.cleaned_data["reason"], by=request.user, now=now)
                messages.success(request, _("The session is moved."))
            else:
                session_services.cancel_occurrence(occurrence=occurrence, reason=form.cleaned_data["reason"],
                                                   by=request.user, now=now)
                messages.success(request, _("The session is cancelled."))
    except DomainError as exc:
        return _fail(request, exc, _back(request, series))
    return redirect(_back(request, series))


# --- Provider absence ---------------------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def absence(request):
    staff = _staff_ids(request.user)
    providers = Provider.objects.for_user(request.user).filter(
        municipalities__id__in=consultant_municipality_ids(request.user)
    ).distinct().order_by("name")
    report, status = None, 200
    if request.method == "POST":
        form = AbsenceForm(request.POST, providers=providers)
        if form.is_valid():
            data = form.cleaned_data
            try:
                report = session_services.record_provider_absence(
                    provider=data["provider"], starts_at=_aware(data["starts_at"]), ends_at=_aware(data["ends_at"]),
                    reason=data["reason"], by=request.user, now=timezone.now(),
                )
            except DomainError as exc:
                form.add_domain_error(exc)
                status = exc.status
            else:
                messages.success(request, _("The absence is recorded."))
        else:
            status = 400
    else:
        form = AbsenceForm(providers=providers)
    affected = []
    if report is not None:
        ids = [o.pk for o in report.flagged]
        affected = list(
            SessionOccurrence.objects.for_user(request.user).filter(pk__in=ids, series__municipality_id__in=staff)
            .select_related("series__child", "series__household").order_by("start")
        )
    return render(request, "sessions/absence.html", {
        "form": form, "report": report, "affected": affected, "can_write": bool(providers),
    }, status=status)


# --- Meetings -----------------------------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def meeting_search(request):
    staff = _staff_ids(request.user)
    placements = (
        Placement.objects.for_user(request.user).active()
        .filter(municipality_id__in=consultant_municipality_ids(request.user))
        .select_related("child").order_by("child__display_name", "pk")
    )
    search, status, form = None, 200, None
    if request.method == "POST" and "start" in request.POST:
        form = BookForm(request.POST, placements=placements)
        if form.is_valid():
            data = form.cleaned_data
            try:
                meeting = meeting_services.book_meeting(
                    placement=data["placement"], kind=data["kind"], start=_aware(data["start"]), by=request.user,
                    now=timezone.now(), duration_minutes=data["duration_minutes"],
                    include_child=data["include_child"], allow_missing=data["allow_missing"],
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                status = exc.status
            else:
                messages.success(request, _("The meeting is booked for %(when)s.") % {
                    "when": timezone.localtime(meeting.start).strftime("%d.%m.%Y %H:%M")})
                return redirect(reverse("web:sessions-meetings"))
        else:
            status = 400
        form = MeetingSearchForm(request.POST, placements=placements)
        form.is_valid()
    elif request.method == "POST":
        form = MeetingSearchForm(request.POST, placements=placements)
        if form.is_valid():
            data = form.cleaned_data
            try:
                search = meeting_services.find_meeting(
                    placement=data["placement"], window_start=_aware(data["window_start"]),
                    window_end=_aware(data["window_end"]), now=timezone.now(),
                    duration_minutes=data["duration_minutes"], include_child=data["include_child"],
                )
            except DomainError as exc:
                form.add_domain_error(exc)
                status = exc.status
        else:
            status = 400
    if form is None:
        start = timezone.localtime().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
        form = MeetingSearchForm(placements=placements, initial={
            "window_start": start.replace(hour=8), "window_end": start.replace(hour=16) + dt.timedelta(days=13),
            "duration_minutes": 60, "kind": MeetingKind.FOLLOW_UP,
        })
    upcoming = (
        Meeting.objects.for_user(request.user).filter(municipality_id__in=staff, end__gt=timezone.now())
        .select_related("placement__child").order_by("start")[:50]
    )
    return render(request, "sessions/meetings.html", {
        "form": form, "search": search, "slots": _slots(search) if search else [], "upcoming": upcoming,
        "can_write": placements.exists(),
    }, status=status)


_WHY = {
    "closed": gettext_lazy("closed day"), "outside_availability": gettext_lazy("outside their available hours"),
    "absent": gettext_lazy("absent"), "busy": gettext_lazy("busy"), "travel": gettext_lazy("too little travel time"),
}


def _slots(search) -> list[dict]:
    labels = search.labels
    out = []
    result = search.result
    for rank, slot in enumerate(([result.slot] if result.slot else []) + list(result.alternatives)):
        out.append({
            "best": rank == 0 and result.found, "start": slot.interval.start, "end": slot.interval.end,
            "missing": [(labels.get(u.party_id, u.party_id), _WHY.get(u.reason, u.reason), u.required)
                        for u in slot.unavailable],
            "complete": not slot.missing_required,
        })
    return out



urlpatterns = [
    path("workspace/sessions/", index, name="sessions"),
    path("workspace/sessions/propose/<int:need_id>/", propose, name="sessions-propose"),
    path("workspace/sessions/series/<int:series_id>/", series_detail, name="sessions-series"),
    path("workspace/sessions/absence/", absence, name="sessions-absence"),
    path("workspace/sessions/meetings/", meeting_search, name="sessions-meetings"),
    *[path(f"workspace/sessions/series/<int:series_id>/{a}/", decide, {"action": a}, name=f"sessions-{a}")
      for a in ("confirm", "decline")],
    *[path(f"workspace/sessions/series/<int:series_id>/{a}/", change_series, {"action": a}, name=f"sessions-{a}")
      for a in ("change", "end")],
    *[path(f"workspace/sessions/series/<int:series_id>/occurrences/<int:occurrence_id>/{a}/", change_occurrence,
           {"action": a}, name=f"sessions-occurrence-{a}") for a in ("move", "cancel", "accept")],
]
