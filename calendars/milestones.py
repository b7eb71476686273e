"""Statutory and long-term milestones (support.models.Milestone) as all-day events in feeds.

Which feed shows which deadline (the same people as ``support.wellbeing.milestones.
upcoming_milestones_for``, read here with the columns a calendar needs):

* a **consultant** feed: the pending milestones of the active placements they are responsible
  for, and the carers' ledger milestones (course days, supervision owed) of those placements'
  foster families; titled with the kind of deadline and the placement number;
* a **household** feed: the household's own ledger milestones (what the foster family is owed:
  course days, supervision sessions). Birth households have none.

Pending (open or overdue) milestones due within ``HORIZON_DAYS`` are shown, overdue ones included;
a milestone that is done or withdrawn leaves the feed.

* **UID**: ``Milestone.uid``, stable across regenerations (it names what the deadline is for).
* **Title**: the rule's title (fixed text from the rules table, in the feed's language), never
  the child's name or any free text; the consultant's feed adds the placement number.
* **SEQUENCE**: seconds from 2020-01-01 UTC to the row's ``updated_at``. Every change to a
  milestone (a moved due date, a new title, done, withdrawn) bumps ``updated_at``
  (``refresh_milestones`` and ``complete_milestone`` both do), so SEQUENCE only grows, without a
  counter column that the wellbeing code would have to maintain. It fits a signed 32-bit
  integer, which is what clients parse, until 2088.
* **DTSTAMP / LAST-MODIFIED**: ``updated_at``, so a feed renders the same bytes until something
  changes.

For the validators of a household feed, ``household_fingerprint`` gives the count of the feed's
milestones and their newest ``updated_at`` as subqueries on the feed's own lookup, so a 304 still
costs one query without a join.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from support.models import Milestone, MilestoneStatus, Placement, PlacementStatus

HORIZON_DAYS = 120
PENDING = (MilestoneStatus.OPEN, MilestoneStatus.OVERDUE)
SEQUENCE_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class MilestoneItem:
    uid: str
    title: str  # the kind of deadline, never the child's name
    date: dt.date
    sequence: int
    created: dt.datetime
    last_modified: dt.datetime


def sequence_of(updated_at: dt.datetime) -> int:
    return max(0, int((updated_at - SEQUENCE_EPOCH).total_seconds()))


def _pending(today: dt.date):
    return Milestone.objects.filter(status__in=PENDING, due_on__lte=today + dt.timedelta(days=HORIZON_DAYS))


def _items(rows, *, language: str, case_word: str | None) -> list[MilestoneItem]:
    out = []
    for uid, title_da, title_en, placement_id, due_on, created_at, updated_at in rows:
        title = title_en if language == "en" else title_da
        if case_word and placement_id:
            title = f"{title} ({case_word} #{placement_id})"
        out.append(MilestoneItem(uid=uid, title=title, date=due_on, sequence=sequence_of(updated_at),
                                 created=created_at, last_modified=updated_at))
    return out


COLUMNS = ("uid", "title_da", "title_en", "placement_id", "due_on", "created_at", "updated_at")


def for_consultant(user_id: int, *, today: dt.date, language: str) -> list[MilestoneItem]:
    """One query: the consultant's cases' milestones and their foster families' ledger milestones."""
    cases = Placement.objects.filter(consultant_id=user_id, status=PlacementStatus.ACTIVE)
    q = Q(placement__in=cases.values("pk")) | Q(household_id__in=cases.values("foster_household_id"))
    rows = _pending(today).filter(q).order_by("due_on", "id").values_list(*COLUMNS)
    return _items(rows, language=language, case_word="placement" if language == "en" else "anbringelse")


def for_household(household_id: int, *, today: dt.date, language: str) -> list[MilestoneItem]:
    """One query: the household's own ledger milestones (what the foster family is owed)."""
    rows = _pending(today).filter(household_id=household_id).order_by("due_on", "id").values_list(*COLUMNS)
    return _items(rows, language=language, case_word=None)


def household_fingerprint(today: dt.date) -> dict:
    """Annotations for a Feed queryset: how many milestones its household shows, and the newest change.

    The newest ``updated_at`` is over all the household's milestones (a done or withdrawn one
    leaves the feed, and that change bumps it too); the count catches a deleted row.
    """
    shown = _pending(today).filter(household_id=OuterRef("household_id")).order_by().values("household_id")
    every = Milestone.objects.filter(household_id=OuterRef("household_id")).order_by().values("household_id")
    return {
        "milestones_shown": Coalesce(Subquery(shown.annotate(n=Count("pk")).values("n")[:1],
                                              output_field=IntegerField()), 0),
        "milestones_changed_at": Subquery(every.annotate(newest=Max("updated_at")).values("newest")[:1]),
    }
