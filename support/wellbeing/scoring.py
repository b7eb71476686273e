"""Score placements with the pure core and store one RiskScore row per placement per computation.

    recompute_placements(placement_ids=[...], now=now)   # after a signal arrives (via a task)
    recompute_all(now=now)                                # nightly, for every scorable placement

Both take the same set-based path: placements are processed in chunks; each chunk is loaded with
a fixed number of queries (support.wellbeing.loading), scored in Python by
`support.risk.score_placement` and `recommend` (support.wellbeing.compute), and written in one go
(COPY on PostgreSQL, a bulk insert elsewhere). The previous `latest` row of each placement is unmarked in the same transaction,
under a row lock on the placements, so two recomputations of one placement cannot both end up
`latest`.

Scoring is CPU-bound pure Python (about 3 ms a placement). With `workers` > 1 the chunks are
scored in that many "spawn" processes while the next chunk loads; a daemonic process (a
django-q2 worker) cannot start children, so there it always scores in-process.

The model version comes from settings (support.wellbeing.conf.risk_config) and is stored on
every row. Nothing here decides anything: a rise in level creates an alert for the responsible
consultant (support.wellbeing.alerts), who decides.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from support.models import LEVEL_RANK, Placement, RiskScore
from support.risk import RiskModelConfig
from support.wellbeing import alerts
from support.wellbeing.compute import explain_many
from support.wellbeing.conf import risk_config
from support.wellbeing.loading import Loaded, load_placements, scorable_placements

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class RecomputeResult:
    scored: int
    alerts_created: int
    chunks: int


def default_workers() -> int:
    """settings.RISK_SCORING_WORKERS, else one process per CPU; 1 inside a daemonic process."""
    if multiprocessing.current_process().daemon:
        return 1
    configured = getattr(settings, "RISK_SCORING_WORKERS", None)
    return max(1, int(configured)) if configured is not None else max(1, os.cpu_count() or 1)


def recompute_all(*, now: dt.datetime, config: RiskModelConfig | None = None, chunk_size: int = CHUNK_SIZE,
                  workers: int | None = None) -> RecomputeResult:
    """Score every active foster placement as of `now`'s local date (the nightly run)."""
    return recompute_placements(placement_ids=None, now=now, config=config, chunk_size=chunk_size,
                                workers=default_workers() if workers is None else workers)


def recompute_placements(*, placement_ids: Iterable[int] | None, now: dt.datetime,
                         config: RiskModelConfig | None = None, chunk_size: int = CHUNK_SIZE,
                         workers: int = 1) -> RecomputeResult:
    """Score the given placements (None: all scorable ones) and store the results."""
    config = config or risk_config()
    today = timezone.localdate(now)
    if placement_ids is None:
        ids = list(scorable_placements().filter(starts_on__lte=today).order_by("id").values_list("id", flat=True))
    else:
        ids = sorted(set(placement_ids))
    chunks = list(_chunks(ids, chunk_size))
    pool = None
    if workers > 1 and len(ids) > chunk_size // 4 and not multiprocessing.current_process().daemon:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    scored = created = 0
    try:
        # Pipeline: while chunk k is scored (in the pool), chunk k+1 is loaded and chunk k-1 stored.
        pending: tuple[list[Loaded], list] | None = None
        for chunk in chunks:
            loaded = load_placements(chunk, today=today, config=config)
            started = (loaded, score_chunk(loaded, config=config, today=today, pool=pool, workers=workers))
            if pending is not None:
                created += _store(*_collect(pending), now=now)
                scored += len(pending[0])
            pending = started
        if pending is not None:
            created += _store(*_collect(pending), now=now)
            scored += len(pending[0])
    finally:
        if pool is not None:
            pool.shutdown()
    return RecomputeResult(scored=scored, alerts_created=created, chunks=len(chunks))


def score_chunk(loaded: Sequence[Loaded], *, config: RiskModelConfig, today: dt.date, pool: Executor | None = None,
                workers: int = 1) -> list:
    """The core's explanation for each placement: at once, or as futures when a pool is given."""
    batch = [(item.raw, item.context) for item in loaded]
    if pool is None:
        return explain_many(batch, config, today)
    size = max(1, -(-len(batch) // (workers * 2)))  # two batches per process evens out the load
    return [pool.submit(explain_many, batch[i:i + size], config, today) for i in range(0, len(batch), size)]


def _collect(pending: tuple[list[Loaded], list]) -> tuple[list[Loaded], list]:
    loaded, results = pending
    if results and isinstance(results[0], Future):
        results = [row for future in results for row in future.result()]
    return loaded, results


_COLUMNS = ("placement_id", "municipality_id", "consultant_id", "computed_at", "level_rank", "latest", "as_of",
            "config_version", "level", "strain_level", "data_sufficient", "index", "coverage", "trend_direction",
            "trend_delta", "trend_slope", "drivers", "detail")


def _store(loaded: Sequence[Loaded], explained: Sequence[tuple[dict, str, str]], *, now: dt.datetime) -> int:
    """Unmark the previous scores, insert the new ones, and alert where the level rose."""
    if not loaded:
        return 0
    ids = [item.placement_id for item in loaded]
    with transaction.atomic():
        # Lock the placements (PostgreSQL; SQLite serialises writers anyway) so a concurrent
        # recomputation waits and then sees this one's rows before it unmarks `latest`.
        list(Placement.objects.select_for_update().filter(id__in=ids).order_by("id").values_list("id", flat=True))
        previous = dict(RiskScore.objects.filter(placement_id__in=ids, latest=True).values_list("placement_id", "level"))
        RiskScore.objects.filter(placement_id__in=ids, latest=True).update(latest=False)
        rising = {item.placement_id for item, (fields, _, _) in zip(loaded, explained, strict=True)
                  if alerts.rose(previous.get(item.placement_id), fields["level"])}
        if connection.vendor == "postgresql":
            rows = _copy_in(loaded, explained, now=now, rising=rising)
        else:
            rows = RiskScore.objects.bulk_create(
                [_row(item, fields, json.loads(drivers), json.loads(detail), now=now)
                 for item, (fields, drivers, detail) in zip(loaded, explained, strict=True)]
            )
        return alerts.alerts_for_scores([r for r in rows if r.placement_id in rising], previous=previous, now=now)


def _row(item: Loaded, fields: dict, drivers: list, detail: dict, *, now: dt.datetime, pk: int | None = None) -> RiskScore:
    return RiskScore(pk=pk, placement_id=item.placement_id, municipality_id=item.municipality_id,
                     consultant_id=item.consultant_id, computed_at=now, level_rank=LEVEL_RANK[fields["level"]],
                     latest=True, drivers=drivers, detail=detail, **fields)


def _copy_in(loaded: Sequence[Loaded], explained: Sequence[tuple[dict, str, str]], *, now: dt.datetime,
             rising: set[int]) -> list[RiskScore]:
    """PostgreSQL: insert with COPY (the JSON text goes in as it came from the scoring process).

    About three times faster than a multi-row INSERT of this much JSON. Returns the rows of the
    placements whose level rose (with their ids), which are all the alerts need.
    """
    sql = f"COPY {RiskScore._meta.db_table} ({', '.join(_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for item, (fields, drivers, detail) in zip(loaded, explained, strict=True):
            copy.write_row((
                item.placement_id, item.municipality_id, item.consultant_id, now, LEVEL_RANK[fields["level"]], True,
                fields["as_of"], fields["config_version"], fields["level"], fields["strain_level"],
                fields["data_sufficient"], fields["index"], fields["coverage"], fields["trend_direction"],
                fields["trend_delta"], fields["trend_slope"], drivers, detail,
            ))
    if not rising:
        return []
    pks = dict(RiskScore.objects.filter(placement_id__in=rising, latest=True).values_list("placement_id", "id"))
    return [_row(item, fields, json.loads(drivers), json.loads(detail), now=now, pk=pks[item.placement_id])
            for item, (fields, drivers, detail) in zip(loaded, explained, strict=True) if item.placement_id in rising]


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
