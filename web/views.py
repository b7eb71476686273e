"""Pages. Each one reads through `for_user`, calls one service to write, and re-renders on a DomainError.

Pages with people's data are never cached (`never_cache`): a shared or borrowed computer must
not keep a child's name in its browser cache after logout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scheduler.models import ACTIVE_RUN_STATUSES, MatchingRun, Proposal, ProposalStatus, UnmatchedNeed
from scheduler.reason_text import names_for, reason_texts, run_error_text
from scheduler.services import matching
from support.errors import DomainError
from support.models import NeedStatus, Placement, Provider, SupportNeed
from web.access import area_for, staff_municipalities
from web.display import Term, local_name, plain_number, progress_message, score_terms
from web.forms import DECISION_FORMS, AcceptForm, OverrideForm, RejectForm, StartRunForm

RUNS_PER_PAGE = 25


# --- Sign-in and the start page ------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST signs out (as Django requires); GET shows a button for it instead of a 405."""

    http_method_names = ["get", "post", "options"]
    template_name = "accounts/logout.html"

    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect("web:login")
        return render(request, self.template_name)


@never_cache
@login_required
@require_GET
def home(request):
    """Send each person to their area; someone without a membership gets a friendly page."""
    area = area_for(request.user)
    if area:
        return redirect(area)
    return render(request, "web/no_access.html")


# --- Consultant workspace --------------------------------------------------------------------------------


@never_cache
@login_required
@require_GET
def workspace(request):
    municipalities = list(staff_municipalities(request.user))
    placements = (
        Placement.objects.for_user(request.user)
        .active()
        .filter(municipality__in=municipalities)
        .select_related("child", "foster_household", "municipality", "consultant")
        .annotate(
            waiting_needs=Count(
                "support_needs",
                filter=Q(support_needs__status__in=[NeedStatus.OPEN, NeedStatus.PROPOSED]),
                distinct=True,
            )
        )
        .order_by("child__display_name", "pk")
    )
    return render(
        request,
        "workspace/index.html",
        {"placements": placements, "municipalities": municipalities, "several": len(municipalities) > 1},
    )


# --- Matching runs -----------------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def matching_runs(request):
    municipalities = staff_municipalities(request.user)
    status = 200
    if request.method == "POST":
        form = StartRunForm(request.POST, municipalities=municipalities)
        if form.is_valid():
            try:
                run = matching.start_matching_run(
                    municipality=form.cleaned_data["municipality"], by=request.user, now=timezone.now()
                )
            except DomainError as exc:
                form.add_domain_error(exc)
                status = exc.status
            else:
                messages.success(request, _("The matching run has started."))
                return redirect("web:matching-run", run_id=run.pk)
        else:
            status = 400
    else:
        form = StartRunForm(municipalities=municipalities)

    runs = MatchingRun.objects.for_user(request.user).select_related("municipality", "started_by")
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    for run in page:
        run.gap_percent = run.gap * 100 if run.gap is not None else None
    return render(
        request,
        "matching/run_list.html",
        {"form": form, "page": page, "several": len(municipalities) > 1},
        status=status,
    )


@dataclass
class ProposalRow:
    proposal: Proposal
    need: SupportNeed
    service: str
    sessions_per_week: str
    terms: list[Term]
    forms: dict = field(default_factory=dict)
    alternatives: list = field(default_factory=list)  # providers the override form offers
    open_form: str = ""  # the decision form to show unfolded: the one with an error
    errors: list[str] = field(default_factory=list)  # a refused decision on a proposal no longer pending

    @property
    def is_pending(self) -> bool:
        return self.proposal.status == ProposalStatus.PENDING


def _override_providers(request, run: MatchingRun, proposal: Proposal):
    # Only providers that offer the service at all: the rest would fail the first hard rule anyway.
    return (
        Provider.objects.for_user(request.user)
        .serving(run.municipality)
        .filter(services=proposal.need.service_id)
        .exclude(pk=proposal.provider_id)
        .order_by("name")
    )


def _render_run(request, run: MatchingRun, *, failed_form=None, failed_proposal_id=None, status=200):
    # One query for every override list on the page, grouped by the service they offer.
    by_service: dict[int, list[Provider]] = defaultdict(list)
    for provider in (
        Provider.objects.for_user(request.user).serving(run.municipality).prefetch_related("services").order_by("name")
    ):
        for service in provider.services.all():
            by_service[service.pk].append(provider)
    proposals = (
        Proposal.objects.for_user(request.user)
        .filter(run=run)
        .select_related(
            "need__placement__child", "need__service", "need__recipient_household", "provider",
            "override_provider", "decided_by",
        )
        .order_by("-need__priority", "need__placement__child__display_name", "pk")
    )
    rows = []
    for proposal in proposals:
        need = proposal.need
        row = ProposalRow(
            proposal=proposal, need=need, service=local_name(need.service),
            sessions_per_week=plain_number(need.sessions_per_week), terms=score_terms(proposal.terms),
        )
        if row.is_pending:
            prefix = f"p{proposal.pk}"
            row.alternatives = [p for p in by_service[need.service_id] if p.pk != proposal.provider_id]
            row.forms = {
                "accept": AcceptForm(prefix=prefix + "a"),
                "reject": RejectForm(prefix=prefix + "r"),
                "override": OverrideForm(prefix=prefix + "o", providers=Provider.objects.none()),
            }
            if proposal.pk == failed_proposal_id and failed_form is not None:
                row.forms[failed_form.action] = failed_form
                row.open_form = failed_form.action
            row.forms["override"].offer(row.alternatives)
        elif proposal.pk == failed_proposal_id and failed_form is not None:
            # Decided meanwhile (a double click, a quicker colleague): say so where the forms were.
            row.errors = [str(e) for errors in failed_form.errors.values() for e in errors]
        rows.append(row)
    unmatched_rows = list(
        UnmatchedNeed.objects.filter(run=run)
        .select_related("need__placement__child", "need__service")
        .order_by("-need__priority", "pk")
    )
    names = names_for(
        (u.details for u in unmatched_rows), municipality_id=run.municipality_id, language=get_language() or "da"
    )
    unmatched = [
        (u, local_name(u.need.service), reason_texts(reasons=u.reasons, details=u.details, names=names))
        for u in unmatched_rows
    ]
    context = {
        "run": run,
        "rows": rows,
        "pending_count": sum(1 for r in rows if r.is_pending),
        "unmatched": unmatched,
        "progress_text": progress_message(run.progress_message),
        "error_text": run_error_text(run.error),
        "is_active": run.status in ACTIVE_RUN_STATUSES,
        "gap_percent": run.gap * 100 if run.gap is not None else None,
    }
    return render(request, "matching/run_detail.html", context, status=status)


def _run_for(request, run_id: int) -> MatchingRun:
    return get_object_or_404(
        MatchingRun.objects.for_user(request.user).select_related("municipality", "started_by"), pk=run_id
    )


@never_cache
@login_required
@require_GET
def matching_run(request, run_id: int):
    return _render_run(request, _run_for(request, run_id))


@never_cache
@login_required
@require_GET
def matching_run_progress(request, run_id: int):
    """The progress box alone, polled by htmx while the run is queued or running.

    When the run has finished the page needs its proposals, so htmx is told to reload it.
    """
    run = _run_for(request, run_id)
    is_active = run.status in ACTIVE_RUN_STATUSES
    response = render(
        request,
        "matching/_run_progress.html",
        {"run": run, "is_active": is_active, "progress_text": progress_message(run.progress_message)},
    )
    if not is_active and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@never_cache
@login_required
@require_POST
def decide_proposal(request, run_id: int, proposal_id: int, action: str):
    run = _run_for(request, run_id)
    proposal = get_object_or_404(
        Proposal.objects.for_user(request.user).select_related("need__service", "need__placement__child", "provider"),
        pk=proposal_id, run=run,
    )
    prefix = f"p{proposal.pk}" + action[0]
    form_class = DECISION_FORMS[action]
    if form_class is OverrideForm:
        form = form_class(request.POST, prefix=prefix, providers=_override_providers(request, run, proposal))
    else:
        form = form_class(request.POST, prefix=prefix)
    if not form.is_valid():
        return _render_run(request, run, failed_form=form, failed_proposal_id=proposal.pk, status=400)

    now = timezone.now()
    child = proposal.need.placement.child.display_name
    try:
        if action == "accept":
            matching.accept_proposal(proposal=proposal, by=request.user, now=now)
            text = _("Accepted: %(provider)s will give %(service)s to %(child)s.") % {
                "provider": proposal.provider.name, "service": local_name(proposal.need.service), "child": child,
            }
        elif action == "reject":
            matching.reject_proposal(proposal=proposal, reason=form.cleaned_data["reason"], by=request.user, now=now)
            text = _("Rejected: %(provider)s will not be proposed for %(child)s again.") % {
                "provider": proposal.provider.name, "child": child,
            }
        else:
            chosen = form.cleaned_data["provider"]
            matching.override_proposal(
                proposal=proposal, provider=chosen, reason=form.cleaned_data["reason"], by=request.user, now=now
            )
            text = _("Assigned instead: %(provider)s will give %(service)s to %(child)s.") % {
                "provider": chosen.name, "service": local_name(proposal.need.service), "child": child,
            }
    except DomainError as exc:
        form.add_domain_error(exc)
        return _render_run(request, run, failed_form=form, failed_proposal_id=proposal.pk, status=exc.status)
    messages.success(request, text)
    return redirect(reverse("web:matching-run", kwargs={"run_id": run.pk}) + f"#proposal-{proposal.pk}")

