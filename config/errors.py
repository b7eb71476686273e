"""The 500 handler: an unreachable database answers 503 with Retry-After, not 500.

While PostgreSQL restarts or fails over, every request that needs it fails with a connection
error, wherever that happens (a view, DRF's authentication, the session or two-factor
middleware). Django calls ``handler500`` for all of them, inside the ``except`` block, so the
exception is still at hand: a lost or refused connection is the service being briefly
unavailable (503, ``Retry-After``, which load balancers and clients retry), while anything else
stays a 500. Neither shows a traceback: ``DEBUG`` is off in production, and the pages are static.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token
from django.views.defaults import server_error

RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException | None) -> bool:
    """True for a connection that could not be opened or was lost (not for a bad query)."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    for connection in connections.all(initialized_only=True):
        try:
            if connection.connection is not None and connection.is_usable():
                return False  # the database answers: this was some other operational error
        except Exception:  # noqa: S112 (checking is best effort; an error here means unusable)
            continue
    return True


@requires_csrf_token
def server_error_or_unavailable(request, template_name: str = "500.html"):
    exc = sys.exc_info()[1]
    if not database_unavailable(exc):
        return server_error(request, template_name=template_name)
    if request.path.startswith("/api/"):
        from api.exceptions import error_body

        message = _("The service is briefly unavailable; try again in a few seconds.")
        response = JsonResponse(error_body("service_unavailable", message), status=503)
    else:
        try:  # without the request: no context processor may need the database
            response = HttpResponse(loader.render_to_string("503.html"), status=503)
        except Exception:
            response = HttpResponse("Service briefly unavailable. Try again in a few seconds.\n", status=503,
                                    content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
