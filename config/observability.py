"""Structured JSON logs with a request ID on every line.

A request's ID comes from X-Request-ID when a proxy sets a sane one, else a new one; it is
returned in the response header and added to every log record written while serving it.
Log lines carry ids and codes, never personal data: no names, CPR numbers or free text.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Tokens in URLs (calendar feeds, API tokens) are cut from logged paths.
_SECRET_PATH = re.compile(r"(/cal/)[^/?#]+")

access_log = logging.getLogger("plejenet.access")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds the request ID, and cuts feed tokens from messages (Django logs "Not Found: <path>")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        message = record.getMessage()
        cleaned = safe_path(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key in ("method", "path", "status", "duration_ms", "user_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def safe_path(path: str) -> str:
    return _SECRET_PATH.sub(r"\1<token>", path)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        request.request_id = request_id
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            user = getattr(request, "user", None)
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": safe_path(request.path),
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                },
            )
            return response
        finally:
            _request_id.reset(token)
