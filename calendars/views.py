"""The feed endpoint. Thin: look up, rate-limit, validators, render; the rest is in calendars.feeds.

An unknown token, a revoked one and a malformed one get the same 404 with the same body, so a
response never says which. A conditional GET that matches answers 304 before anything is
rendered.
"""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db.models import F, Q
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from calendars import access, feeds, lookup
from calendars.conf import setting
from calendars.models import Feed, FeedKind

NOT_FOUND_BODY = "Not found.\n"


def _not_found() -> HttpResponse:
    return HttpResponse(NOT_FOUND_BODY, status=404, content_type="text/plain; charset=utf-8")


def _headers(response: HttpResponse, validators: feeds.Validators) -> HttpResponse:
    response["ETag"] = validators.etag_header
    response["Last-Modified"] = validators.last_modified_header
    # Private data: no shared cache may keep it, and clients revalidate with the ETag.
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _not_modified(request, validators: feeds.Validators) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or validators.etag_header in tags
    since = request.headers.get("If-Modified-Since")
    if since:
        from django.utils.http import parse_http_date_safe

        parsed = parse_http_date_safe(since)
        return parsed is not None and int(validators.last_modified.timestamp()) <= parsed
    return False


def _record_fetch(feed: Feed, request, ip: str, now) -> None:
    """At most one write per feed per ``CALENDAR_FEED_RECORD_SECONDS``: a feed polled by several
    clients must not turn every read into a write on one hot row."""
    since = now - dt.timedelta(seconds=setting("CALENDAR_FEED_RECORD_SECONDS"))
    if feed.last_fetched_at is not None and feed.last_fetched_at > since:
        return
    Feed.objects.filter(pk=feed.pk).filter(Q(last_fetched_at__isnull=True) | Q(last_fetched_at__lte=since)).update(
        last_fetched_at=now, last_client=access.client_family(request.headers.get("User-Agent", "")),
        last_network=access.truncated_network(ip), fetch_count=F("fetch_count") + 1,
    )


def _rendered(feed: Feed, validators: feeds.Validators, now, milestones) -> bytes:
    """The body, rendered once per ETag: clients that never send If-None-Match (Google Calendar
    polls that way) then cost a cache read. The ETag names the content exactly, so the cache is
    never fresher or staler than the 304s; a revoked feed never gets this far."""
    seconds = setting("CALENDAR_FEED_CACHE_SECONDS")
    key = f"calendars:feed-body:{feed.pk}:{validators.etag}"
    body = cache.get(key) if seconds else None
    if body is None:
        body = feeds.render(feed, now, milestones=milestones)
        if seconds:
            cache.set(key, body, timeout=seconds)
    return body


@require_safe
def feed(request, token: str):
    now = timezone.now()
    ip = access.client_ip(request)
    if access.is_blocked(ip):
        response = HttpResponse("Too many requests.\n", status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(access.retry_after())
        return response
    found = None
    if access.plausible(token):
        # No joins: a 304 needs only this row; rendering fetches the subject when it names the calendar.
        # Household feeds also bring their milestones' fingerprint, as subqueries; the SQL is
        # compiled once per connection (calendars.lookup).
        found = lookup.live_feed(access.hash_token(token), feeds.local_today(now))
    if found is None:
        access.record_miss(ip)
        return _not_found()
    # Consultant feeds hash their milestones for the ETag; a household's are read only to render.
    milestones = feeds.milestones_for(found, now) if found.kind == FeedKind.CONSULTANT else None
    validators = feeds.validators(found, now, milestones=milestones)
    _record_fetch(found, request, ip, now)
    if _not_modified(request, validators):
        return _headers(HttpResponse(status=304), validators)
    body = _rendered(found, validators, now, milestones)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="plejenet.ics"'
    return _headers(response, validators)
