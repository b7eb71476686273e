"""Structured JSON logs with a request ID on every line.

A request's ID comes from X-Request-ID when a proxy sets a sane one, else a new one; it is
returned in the response header and added to every log record written while serving it.
Log lines carry ids and codes, never personal data: no names, CPR numbers or free text.

Paths are logged as the client sent them only where that is safe: a path segment is kept when
it is a literal word of one of our URL patterns ("api", "calendar-feeds") or a number (an id);
anything else a client put there (a name typed into a URL, a token) becomes ``<x>``, in the
access log and in Django's own "Not Found: <path>" lines.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from functools import cache

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Tokens in URLs (calendar feeds, API tokens) are cut from logged paths.
_SECRET_PATH = re.compile(r"(/cal/)[^/?#]+")
# Ids: up to nine digits (a ten-digit run could be a CPR number written without its dash).
_NUMBER = re.compile(r"^\d{1,9}$")
# Literal words in URL patterns: route text outside <converters>, runs of URL characters in regexes.
_CONVERTER = re.compile(r"<[^>]*>")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
REDACTED_SEGMENT = "<x>"

access_log = logging.getLogger("plejenet.access")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds the request ID, and cuts feed tokens from messages (Django logs "Not Found: <path>")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        if record.name.startswith("django.") and isinstance(record.args, tuple):
            # "Not Found: %s" and friends: the path argument, cleaned like the access log's.
            record.args = tuple(safe_path(a) if isinstance(a, str) and a.startswith("/") else a for a in record.args)
        message = record.getMessage()
        cleaned = _SECRET_PATH.sub(r"\1<token>", message)
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
    """The path with feed tokens cut and every segment that is neither one of our URL words nor
    a number replaced by <x>."""
    path = _SECRET_PATH.sub(r"\1<token>", path)
    known = url_words()
    return "/".join(
        segment if not segment or segment in known or segment == "<token>" or _NUMBER.match(segment)
        else REDACTED_SEGMENT
        for segment in path.split("/")
    )


@cache
def url_words() -> frozenset[str]:
    """Every literal word of the project's URL patterns (computed once per process)."""
    from django.conf import settings
    from django.urls import URLPattern, URLResolver, get_resolver

    words: set[str] = set()

    def walk(patterns) -> None:
        for entry in patterns:
            text = _CONVERTER.sub("/", str(entry.pattern))
            words.update(_WORD.findall(text))
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns)
            elif not isinstance(entry, URLPattern):  # pragma: no cover - Django has only these two
                continue

    walk(get_resolver().url_patterns)
    static = getattr(settings, "STATIC_URL", "") or ""
    words.update(_WORD.findall(static))
    return frozenset(words)


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
