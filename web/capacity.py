"""The team lead's capacity dashboard and its CSV export: thin views over support.capacity.

Staff of the municipality (team leads and consultants) may open it; anyone else gets a 404, as
for every page of someone else's scope. The filters are a GET form that works without
JavaScript, and the export takes the same query string, so it always holds what the page shows.
The export carries no child names and no free text, and each export is written to the audit trail.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from scheduler.reason_text import names_for, reason_texts
from support import audit
from support.capacity import (
    LEVELS,
    CapacityReport,
    Filters,
    area_names,
    capacity_report,
)
from support.models import Competence, Level, Municipality, Service, Team
from web.access import staff_municipalities


class CapacityFilterForm(forms.Form):
    municipality = forms.ModelChoiceField(queryset=Municipality.objects.none(), required=False,
                                          label=gettext_lazy("Municipality"))
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label=gettext_lazy("Team"),
                                  empty_label=gettext_lazy("All teams"))
    service = forms.ModelChoiceField(queryset=Service.objects.all(), required=False, label=gettext_lazy("Service"),
                                     empty_label=gettext_lazy("All services"))
    competence = forms.ModelChoiceField(queryset=Competence.objects.all(), required=False,
                                        label=gettext_lazy("Competence"), empty_label=gettext_lazy("All competences"))
    area = forms.ChoiceField(required=False, label=gettext_lazy("Area"))

    def __init__(self, data, *, municipalities: list[Municipality]):
        super().__init__(data)
        self.municipalities = municipalities
        english = (get_language() or "da").startswith("en")
        field = self.fields["municipality"]
        field.queryset = Municipality.objects.filter(pk__in=[m.pk for m in municipalities])
        if len(municipalities) == 1:
            field.widget = forms.HiddenInput()
        field.empty_label = None
        chosen = self._chosen_municipality()
        self.fields["team"].queryset = Team.objects.filter(municipality=chosen).order_by("name")
        for name in ("service", "competence"):
            self.fields[name].label_from_instance = (lambda obj: obj.name_en) if english else (lambda obj: obj.name_da)
        self.fields["area"].choices = [("", _("All areas"))] + [(a, a) for a in area_names(chosen)]

    def _chosen_municipality(self) -> Municipality:
        """The municipality the rest of the choices belong to: the one asked for if allowed, else the first."""
        wanted = str((self.data or {}).get("municipality") or "")
        return next((m for m in self.municipalities if str(m.pk) == wanted), self.municipalities[0])

    def clean(self):
        data = super().clean()
        data["municipality"] = data.get("municipality") or self.municipalities[0]
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            team_id=data["team"].pk if data.get("team") else None,
            service_id=data["service"].pk if data.get("service") else None,
            competence_id=data["competence"].pk if data.get("competence") else None,
            area=data.get("area") or "",
        )


def _report(request) -> tuple[CapacityFilterForm, CapacityReport | None]:
    municipalities = list(staff_municipalities(request.user))  # 404 for anyone who is not staff
    form = CapacityFilterForm(request.GET or None, municipalities=municipalities)
    if request.GET and not form.is_valid():
        return form, None
    municipality = form.cleaned_data["municipality"] if request.GET else municipalities[0]
    filters = form.filters() if request.GET else Filters()
    now = timezone.now()
    report = capacity_report(user=request.user, municipality=municipality, filters=filters,
                             today=timezone.localdate(now), now=now)
    return form, report


def _local(da: str, en: str) -> str:
    return en if (get_language() or "da").startswith("en") else da


LEVEL_LABELS = {
    Level.GREEN: gettext_lazy("Green"),
    Level.YELLOW: gettext_lazy("Yellow"),
    Level.RED: gettext_lazy("Red"),
    Level.NO_DATA: gettext_lazy("No recent data"),
}


@never_cache
@login_required
@require_GET
def capacity(request):
    form, report = _report(request)
    if report is None:
        return render(request, "capacity/index.html", {"form": form, "report": None}, status=400)
    heatmaps = [
        (_("Providers"), "providers", [(r.name_da, r) for r in report.provider_rows]),
        (_("Services"), "services", [(_local(r.name_da, r.name_en), r) for r in report.by_service]),
        (_("Competences"), "competences", [(_local(r.name_da, r.name_en), r) for r in report.by_competence]),
    ]
    risk_rows = [
        {"level": level, "label": LEVEL_LABELS[level], "now": report.risk.now[level],
         "then": report.risk.month_ago[level], "change": report.risk.change[level]}
        for level in LEVELS
    ]
    # The dashboard names needs by number only, so the reasons do too.
    names = names_for((w.reason_details for w in report.waiting), municipality_id=report.municipality.pk,
                      language=get_language() or "da", name_children=False)
    waiting = [
        (w, _local(w.service_da, w.service_en),
         reason_texts(reasons=list(w.reasons), details=list(w.reason_details), names=names), bool(w.reason_details))
        for w in report.waiting
    ]
    query = request.GET.urlencode()
    return render(request, "capacity/index.html", {
        "form": form, "report": report, "heatmaps": heatmaps, "risk_rows": risk_rows, "waiting": waiting,
        "several": len(form.municipalities) > 1, "export_query": query,
    })


# --- CSV -------------------------------------------------------------------------------------------------------

CSV_COLUMNS = ["section", "subject_type", "subject_id", "subject", "period", "measure", "value"]


def _cell_value(value) -> str:
    """Text cells that a spreadsheet would run as a formula get a leading quote (CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_rows(report: CapacityReport) -> Iterator[list]:
    """The report as long rows: one measure per line. No child names, no free text."""
    for section, rows in (("provider_week", report.provider_rows), ("service_week", report.by_service),
                          ("competence_week", report.by_competence)):
        for row in rows:
            name = _local(row.name_da, row.name_en)
            for monday, cell in zip(report.weeks, row.cells, strict=True):
                base = [section, row.kind, row.key, name, monday.isoformat()]
                yield [*base, "booked_minutes", cell.booked]
                yield [*base, "capacity_minutes", cell.capacity]
                yield [*base, "utilisation_percent", "" if cell.percent is None else cell.percent]
    for p in report.near_or_over:
        peak_k, peak = p.peak
        base = ["near_or_over_capacity", "provider", p.id, p.name, ""]
        yield [*base, "status", p.status]
        yield [*base, "peak_week", report.weeks[peak_k].isoformat()]
        yield [*base, "peak_utilisation_percent", "" if peak.percent is None else peak.percent]
        yield [*base, "committed_minutes_per_week", p.committed_minutes]
        yield [*base, "capacity_minutes_per_week", p.capacity_per_week]
        yield [*base, "cases", p.cases]
        yield [*base, "max_cases", p.max_cases]
    year = str(report.ledger_year)
    for r in report.ledger:
        base = ["carer_support_ledger", "household", r.household_id, r.household_name, year]
        yield [*base, "course_days_owed", r.course_days_owed]
        yield [*base, "course_days_delivered", r.course_days_delivered]
        yield [*base, "supervision_sessions_owed", r.supervision_owed]
        yield [*base, "supervision_sessions_due_so_far", r.supervision_due_so_far]
        yield [*base, "supervision_sessions_delivered", r.supervision_delivered]
        yield [*base, "supervision_sessions_overdue", r.supervision_overdue]
    for w in report.waiting:
        base = ["waiting_need", "need", w.need_id, _local(w.service_da, w.service_en), w.waiting_since.isoformat()]
        yield [*base, "placement", w.placement_id]
        yield [*base, "recipient", w.recipient]
        yield [*base, "priority", w.priority]
        yield [*base, "status", w.status]
        yield [*base, "waiting_days", w.waiting_days]
        for reason in w.reasons:
            yield [*base, "unmatched_reason", reason]
    period = f"{report.risk.compared_with.isoformat()}/{report.risk.as_of.isoformat()}"
    for level in LEVELS:
        base = ["risk_distribution", "level", level, level, period]
        yield [*base, "placements_now", report.risk.now[level]]
        yield [*base, "placements_month_ago", report.risk.month_ago[level]]
        yield [*base, "change", report.risk.change[level]]
    period = f"{report.override_since.isoformat()}/{report.today.isoformat()}"
    for line in report.overrides:
        f = line.figures
        base = ["assessments", "team" if line.is_team else "consultant", "" if line.is_team else line.label,
                "all" if line.is_team else line.label, period]
        yield [*base, "assessed", f.assessed]
        yield [*base, "agreed", f.agreed]
        yield [*base, "overridden", f.overridden]
        yield [*base, "override_rate_percent", "" if f.override_rate is None else round(f.override_rate * 100)]
        yield [*base, "unassessed_flags", f.unassessed_flags]


@never_cache
@login_required
@require_GET
def capacity_csv(request):
    form, report = _report(request)
    if report is None:
        return render(request, "capacity/index.html", {"form": form, "report": None}, status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="kapacitet-{report.municipality.code}-{report.today.isoformat()}.csv"'
    )
    response.write("\ufeff")  # so spreadsheet programs read UTF-8 (æ, ø, å)
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in csv_rows(report):
        writer.writerow([_cell_value(v) for v in row])
        count += 1
    audit.record(actor=request.user, action="capacity.export", object_type="support.municipality",
                 object_id=str(report.municipality.pk), municipality_id=report.municipality.pk,
                 ip=request.META.get("REMOTE_ADDR") or None, details={**report.filters.as_details(), "rows": count})
    return response
