"""Queue health for /healthz: broker reachable, backlog size, and whether a worker is alive."""

from __future__ import annotations

from django.conf import settings


def queue_status() -> dict:
    broker_name = "redis" if settings.REDIS_URL else "orm"
    try:
        from django_q.brokers import get_broker

        broker = get_broker()
        if not broker.ping():
            return {"ok": False, "broker": broker_name, "error": "broker did not answer"}
        return {"ok": True, "broker": broker_name, "queued": broker.queue_size(), "workers": _cluster_count()}
    except Exception as exc:  # report, never raise: health checks must answer
        return {"ok": False, "broker": broker_name, "error": exc.__class__.__name__}


def _cluster_count() -> int:
    try:
        from django_q.status import Stat

        return len(Stat.get_all())
    except Exception:
        return 0
