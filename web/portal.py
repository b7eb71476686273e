"""The portal for foster parents, birth parents and providers: their own support and next sessions.

Everything comes from `for_user` querysets, so a family sees only its own household's support and
a provider only its own assignments. No child names: the portal shows what, who and when.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from scheduler.models import SessionOccurrence
from support.models import NeedStatus, SupportNeed
from web import calendar_links
from web.wellbeing_pages import portal_context

HORIZON = dt.timedelta(weeks=8)
MAX_SESSIONS = 20


@never_cache
@login_required
@require_GET
def portal(request):
    now = timezone.now()
    sessions = list(
        SessionOccurrence.objects.for_user(request.user)
        .booked()
        .filter(start__gte=now, start__lt=now + HORIZON)
        .select_related("series__provider", "series__household", "series__need__service")
        .order_by("start")[:MAX_SESSIONS]
    )
    support = list(
        SupportNeed.objects.for_user(request.user)
        .filter(status=NeedStatus.ASSIGNED)
        .select_related("service", "current_provider", "recipient_household")
        .order_by("service__code", "pk")
    )
    context = {"sessions": sessions, "support": support, "weeks": 8}
    context.update(portal_context(request.user, now=now))  # the well-being card (web/wellbeing_pages.py)
    context.update(calendar_links.portal_context(request.user))  # "add to my calendar" (web/calendar_links.py)
    return render(request, "portal/index.html", context)
