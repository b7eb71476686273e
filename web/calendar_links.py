"""'Add to my calendar' on the portal, and the consultants' calendar page.

Feed tokens are stored only as a hash, so a link cannot be shown again later. The flow is honest
about that:

* the portal card says whether the family (or provider) has a calendar link, when a calendar app
  last fetched it and which kind of app;
* "Create my calendar link" makes one and shows it **once** (webcal and https links, a QR code,
  instructions for iPhone, Android/Google and Outlook) on a page that is never cached;
* "Make a new link" rotates: the old link stops working at once and the new one is shown once;
* "Stop the link" revokes it.

Consultants and team leads get the same for the households of their municipality (to hand a
new link to a family, or stop one that leaked) and the list of invitations and CalDAV pushes that
failed or wait for a retry, with the last error. Rules stay in calendars.services.feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from calendars import outbox
from calendars.feeds import feed_name
from calendars.models import Feed
from calendars.services import feeds as feed_services
from support.errors import DomainError, NotFoundInScope
from support.models import Household, Provider
from support.roles import scope_for
from web.access import staff_municipalities


@dataclass(frozen=True)
class CalendarCard:
    """One calendar the signed-in person owns: their household's or their provider's."""

    key: str  # "household:12", the form's value for "create"
    name: str
    feed: Feed | None
    is_household: bool


def _own_subjects(user) -> list[tuple[str, object]]:
    scope = scope_for(user)
    households = Household.objects.filter(pk__in=scope.household_ids).order_by("name", "pk")
    providers = Provider.objects.filter(pk__in=scope.provider_ids).order_by("name", "pk")
    return [(f"household:{h.pk}", h) for h in households] + [(f"provider:{p.pk}", p) for p in providers]


def portal_context(user) -> dict:
    """The portal's calendar card(s): ``{"calendar_cards": [...]}``, empty for people with no calendar."""
    subjects = _own_subjects(user)
    if not subjects:
        return {"calendar_cards": []}
    live = Feed.objects.live().filter(
        household_id__in=[s.pk for k, s in subjects if k.startswith("household")]
    ) | Feed.objects.live().filter(provider_id__in=[s.pk for k, s in subjects if k.startswith("provider")])
    by_subject = {(f"household:{f.household_id}" if f.household_id else f"provider:{f.provider_id}"): f for f in live}
    return {"calendar_cards": [CalendarCard(key=key, name=subject.name, feed=by_subject.get(key),
                                            is_household=key.startswith("household"))
                               for key, subject in subjects]}


def _link_page(request, issued: feed_services.IssuedFeed, *, back: str):
    links = issued.links
    response = render(request, "portal/calendar_link.html", {
        "links": links,
        # qrcode's own SVG (a single path, no scripts, no styles): safe to inline under the CSP.
        "qr_svg": mark_safe(links.qr_svg()),  # noqa: S308
        "name": feed_name(issued.feed),
        "feed": issued.feed,
        "back": back,
    })
    # The token is in this page and nowhere else: no browser or proxy may keep a copy.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _feed_in_scope(user, feed_id: str) -> Feed:
    if not str(feed_id).isdigit():
        raise Http404
    feed = feed_services.feeds_for(user).filter(pk=int(feed_id)).first()
    if feed is None:
        raise Http404
    return feed


def _act(request, *, back: str, subject_for_create):
    """Create, rotate, revoke or set detail, from a POSTed form; returns a response."""
    action, now, user = request.POST.get("action", ""), timezone.now(), request.user
    try:
        if action == "create":
            subject = subject_for_create(request.POST.get("subject", ""))
            return _link_page(request, feed_services.issue_feed(subject=subject, by=user, now=now), back=back)
        feed = _feed_in_scope(user, request.POST.get("feed", ""))
        if action == "rotate":
            return _link_page(request, feed_services.rotate_feed(feed=feed, by=user, now=now), back=back)
        if action == "revoke":
            feed_services.revoke_feed(feed=feed, by=user, now=now)
            messages.success(request, _("The calendar link has been stopped. Calendars that used it no longer update."))
        elif action == "detail":
            detailed = request.POST.get("detailed") == "on"
            feed_services.set_feed_detail(feed=feed, detailed=detailed, by=user, now=now)
            messages.success(request, _("Your choice about details in the calendar has been saved."))
        else:
            raise Http404
    except NotFoundInScope:
        raise Http404 from None
    except DomainError as exc:
        if exc.code == "feed_exists":
            messages.error(request, _("There is already a calendar link. Make a new link if you have lost it."))
        else:
            messages.error(request, _("That could not be done: %(reason)s") % {"reason": exc.message})
    return redirect(back)


# --- The portal ----------------------------------------------------------------------------------------------


def _own_subject(user, key: str):
    kind, _sep, pk = key.partition(":")
    scope = scope_for(user)
    if kind == "household" and pk.isdigit() and int(pk) in scope.household_ids:
        return Household.objects.get(pk=int(pk))
    if kind == "provider" and pk.isdigit() and int(pk) in scope.provider_ids:
        return Provider.objects.get(pk=int(pk))
    raise Http404


@never_cache
@login_required
@require_POST
def portal_calendar(request):
    """The portal card's buttons. Only the person's own household or provider."""
    own = {key for key, _subject in _own_subjects(request.user)}
    if not own:
        raise Http404
    if request.POST.get("action") != "create":
        feed = _feed_in_scope(request.user, request.POST.get("feed", ""))
        if (f"household:{feed.household_id}" if feed.household_id else f"provider:{feed.provider_id}") not in own:
            raise Http404  # a consultant's or team's feed is managed from the workspace
    return _act(request, back=reverse("web:portal") + "#calendar",
                subject_for_create=lambda key: _own_subject(request.user, key))


# --- The consultants' page -------------------------------------------------------------------------------------


def _staff_household(user, key: str) -> Household:
    kind, _sep, pk = key.partition(":")
    if kind != "household" or not pk.isdigit():
        raise Http404
    household = Household.objects.filter(pk=int(pk),
                                         municipality_id__in=scope_for(user).staff_municipality_ids).first()
    if household is None:
        raise Http404
    return household


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def staff_calendars(request):
    """Households' calendar links in the consultant's municipalities, and deliveries that failed."""
    municipalities = list(staff_municipalities(request.user))  # 404 for anyone but staff
    if request.method == "POST":
        feed_id = request.POST.get("feed")
        if feed_id and _feed_in_scope(request.user, feed_id).kind != "household":
            raise Http404  # this page manages households' links only
        return _act(request, back=reverse("web:calendars"),
                    subject_for_create=lambda key: _staff_household(request.user, key))
    households = list(Household.objects.filter(municipality__in=municipalities).order_by("name", "pk"))
    live = {f.household_id: f for f in Feed.objects.live().filter(household__in=households)}
    rows = [(household, live.get(household.pk)) for household in households]
    problems = list(outbox.delivery_problems(user=request.user))
    return render(request, "workspace/calendars.html", {"rows": rows, "problems": problems,
                                                        "municipalities": municipalities})
