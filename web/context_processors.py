"""Navigation for base.html: only the areas the user's memberships open."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from support.roles import Role, scope_for


def navigation(request) -> dict:
    scope = scope_for(getattr(request, "user", None))
    items: list[tuple[str, str]] = []
    if scope.staff_municipality_ids:
        items.append((reverse("web:workspace"), _("Placements")))
        if scope.case_municipality_ids:  # carers' signals and alerts: case workers only (docs/wellbeing.md)
            items.append((reverse("web:my-placements"), _("My placements")))
            items.append((reverse("web:alerts"), _("Alerts")))
        items.append((reverse("web:matching"), _("Matching")))
        items.append((reverse("web:sessions"), _("Sessions")))
        items.append((reverse("web:capacity"), _("Capacity")))
        items.append((reverse("web:calendars"), _("Calendars")))
    if scope.has_role(Role.ADMINISTRATOR):
        items.append((reverse("admin:index"), _("Administration")))
    # The current item is the one whose URL is the longest prefix of this page's path.
    path = getattr(request, "path", "")
    current = max((url for url, _label in items if path.startswith(url)), key=len, default=None)
    return {"nav_items": [{"url": url, "label": label, "current": url == current} for url, label in items]}
