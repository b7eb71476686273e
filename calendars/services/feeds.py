"""Issuing, rotating and revoking calendar feeds, and the household's detail opt-in.

Who may manage a feed:

* its owner: a parent of the household, a user of the provider, the consultant themselves,
  a member of the team;
* staff (consultants and team leads) of the municipality the subject belongs to (for a
  provider: any municipality it serves; for another consultant's feed: team leads only);
* a global administrator.

Anyone else gets ``NotFoundInScope``, the same answer as for a feed that does not exist.
A token is returned once, by ``issue_feed`` and ``rotate_feed``; only its hash is stored.
Every action is audited, never with the token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from calendars import access
from calendars.links import SubscriptionLinks, subscription_links
from calendars.models import SUBJECT_FIELD, Feed, FeedKind
from support import audit
from support.errors import Conflict, DomainError, NotFoundInScope
from support.models import Household, Provider, Team
from support.roles import STAFF_ROLES, scope_for


@dataclass(frozen=True)
class IssuedFeed:
    """A feed and its token; the token cannot be read again later (rotate to get a new one)."""

    feed: Feed
    token: str

    @property
    def links(self) -> SubscriptionLinks:
        return subscription_links(self.token)


def _municipality_id(kind: str, subject) -> int | None:
    if kind in (FeedKind.HOUSEHOLD, FeedKind.TEAM):
        return subject.municipality_id
    return None


def can_manage(user, *, kind: str, subject) -> bool:
    scope = scope_for(user)
    if scope.is_global_admin:
        return True
    staff = scope.staff_municipality_ids
    if kind == FeedKind.HOUSEHOLD:
        return subject.pk in scope.household_ids or subject.municipality_id in staff
    if kind == FeedKind.PROVIDER:
        if subject.pk in scope.provider_ids:
            return True
        return subject.municipalities.filter(pk__in=staff).exists()
    if kind == FeedKind.CONSULTANT:
        if subject.pk == user.pk:
            return bool(staff)
        theirs = set(subject.memberships.filter(role__in=STAFF_ROLES).values_list("municipality_id", flat=True))
        return bool(theirs & scope.lead_municipality_ids)
    if kind == FeedKind.TEAM:
        return subject.pk in scope.team_ids or subject.municipality_id in scope.lead_municipality_ids
    return False


def _require(user, feed_or_kind, subject=None) -> None:
    if isinstance(feed_or_kind, Feed):
        kind, subject = feed_or_kind.kind, feed_or_kind.subject
    else:
        kind = feed_or_kind
    if not can_manage(user, kind=kind, subject=subject):
        raise NotFoundInScope("Not found.")


def _kind_of(subject) -> str:
    if isinstance(subject, Household):
        return FeedKind.HOUSEHOLD
    if isinstance(subject, Provider):
        return FeedKind.PROVIDER
    if isinstance(subject, Team):
        return FeedKind.TEAM
    if getattr(subject, "is_authenticated", False) or hasattr(subject, "get_username"):
        return FeedKind.CONSULTANT
    raise DomainError("A feed is for a household, a provider, a consultant or a team.", code="bad_subject")


def _default_language(kind: str, subject) -> str:
    languages = getattr(subject, "languages", None) or []
    return "en" if languages and languages[0] == "en" else "da"


def _audit(action: str, feed: Feed, by, details: dict | None = None) -> None:
    audit.record(actor=by, action=action, object_type="calendars.feed", object_id=str(feed.pk),
                 municipality_id=_municipality_id(feed.kind, feed.subject), details={"kind": feed.kind, **(details or {})})


def issue_feed(*, subject, by, now: dt.datetime, detailed: bool = False, language: str | None = None) -> IssuedFeed:
    """A new feed for ``subject`` (Household, Provider, consultant User or Team)."""
    kind = _kind_of(subject)
    _require(by, kind, subject)
    if kind == FeedKind.CONSULTANT and not scope_for(subject).staff_municipality_ids:
        raise DomainError("Consultant feeds are for consultants and team leads.", code="not_staff")
    if detailed and kind != FeedKind.HOUSEHOLD:
        raise DomainError("Only a household's feed can show more detail.", code="detail_households_only",
                          fields={"detailed": ["Only for households."]})
    if language not in (None, "da", "en"):
        raise DomainError("Language is da or en.", code="bad_language", fields={"language": ["da or en"]})
    token = access.new_token()
    feed = Feed(kind=kind, token_hash=access.hash_token(token), detailed=detailed,
                language=language or _default_language(kind, subject), created_at=now, created_by=by, updated_at=now)
    setattr(feed, SUBJECT_FIELD[kind], subject)
    try:
        with transaction.atomic():
            feed.save()
            _audit("calendar_feed.issue", feed, by, {"detailed": detailed})
    except IntegrityError:
        raise Conflict("This calendar already has a feed: rotate it to get a new link.", code="feed_exists") from None
    return IssuedFeed(feed=feed, token=token)


def _locked(feed: Feed) -> Feed:
    locked = (Feed.objects.select_for_update(of=("self",)).select_related("household", "provider", "user", "team")
              .get(pk=feed.pk))
    if not locked.is_live:
        raise NotFoundInScope("Not found.")
    return locked


def rotate_feed(*, feed: Feed, by, now: dt.datetime) -> IssuedFeed:
    """A new token for the same feed and settings; the old link stops working at once."""
    _require(by, feed)
    token = access.new_token()
    with transaction.atomic():
        locked = _locked(feed)
        locked.token_hash = access.hash_token(token)
        locked.rotated_at = locked.updated_at = now
        locked.save(update_fields=["token_hash", "rotated_at", "updated_at"])
        _audit("calendar_feed.rotate", locked, by)
    return IssuedFeed(feed=locked, token=token)


def revoke_feed(*, feed: Feed, by, now: dt.datetime) -> Feed:
    """Stop the feed for good (its link then answers 404); a new one can be issued afterwards."""
    _require(by, feed)
    with transaction.atomic():
        locked = _locked(feed)
        locked.revoked_at = locked.updated_at = now
        locked.revoked_by = by if getattr(by, "is_authenticated", False) else None
        locked.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
        _audit("calendar_feed.revoke", locked, by)
    return locked


def set_feed_detail(*, feed: Feed, detailed: bool, by, now: dt.datetime) -> Feed:
    """A household opts its own feed in to (or out of) the child's name and meeting titles.

    Only the household's own parents decide this: it is their choice what a third-party
    calendar service may read about their family, not the municipality's.
    """
    scope = scope_for(by)
    if feed.kind != FeedKind.HOUSEHOLD:
        raise DomainError("Only a household's feed can show more detail.", code="detail_households_only")
    if feed.household_id not in scope.household_ids:
        if can_manage(by, kind=feed.kind, subject=feed.subject):
            raise DomainError("Only the household itself can choose more detail in its calendar.",
                              code="household_decides")
        raise NotFoundInScope("Not found.")
    with transaction.atomic():
        locked = _locked(feed)
        if locked.detailed != detailed:
            locked.detailed, locked.updated_at = detailed, now
            locked.save(update_fields=["detailed", "updated_at"])
            _audit("calendar_feed.detail", locked, by, {"detailed": detailed})
    return locked


def feeds_for(user):
    """Feeds the user may manage (live first), for the portal page and the API."""
    return Feed.objects.for_user(user).select_related("household", "provider", "user", "team").order_by(
        "revoked_at", "kind", "pk"
    )
