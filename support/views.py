"""HTTP endpoints of the care domain that are not part of the REST API."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from support.health import queue_status


@never_cache
@require_GET
def healthz(request):
    """200 with database and queue status as JSON; 503 when the database cannot be reached."""
    database = {"engine": connection.vendor}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database["ok"] = True
    except Exception as exc:  # any driver error means "down" to a load balancer
        database.update(ok=False, error=exc.__class__.__name__)
    queue = queue_status() if database["ok"] or settings.REDIS_URL else {"ok": False, "error": "database down"}
    body = {"status": "ok" if database["ok"] and queue["ok"] else "degraded", "database": database, "queue": queue}
    if not database["ok"]:
        body["status"] = "down"
    return JsonResponse(body, status=200 if database["ok"] else 503)
