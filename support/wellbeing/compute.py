"""The CPU-bound part of a recomputation: build the core's inputs, score, explain, serialise.

Pure (imports only support.risk, no Django), so it can run in worker processes started with
"spawn": they never inherit a database connection and never need Django set up. The loader
hands over `RawPlacement`s (plain tuples straight from the database) and the derived context;
back come the columns and the JSON text of one RiskScore row per placement.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from support.risk import (
    AbsenceMonth,
    Baseline,
    CheckIn,
    ChildView,
    Incident,
    Period,
    PlacementInputs,
    RiskModelConfig,
    SdqReport,
    SystemSignals,
    recommend,
    score_placement,
)

Span = tuple[dt.date, dt.date | None]


@dataclass(frozen=True, slots=True)
class RawPlacement:
    """One placement's records as read from the database, before the core validates them."""

    placement_id: int
    birth_date: dt.date
    placement_start: dt.date
    baseline: tuple[int, int, bool, bool, bool, int, bool]  # Baseline's fields, in order
    attends_school: bool
    checkins: tuple[tuple, ...] = ()  # (on, stress, help_now, sleep, conflicts, commitment, behaviours)
    sdq: tuple[tuple, ...] = ()  # (on, informant, total, impact)
    absence: tuple[tuple, ...] = ()  # (month, total_pct, unlawful_pct)
    incidents: tuple[tuple, ...] = ()  # (on, kind)
    child_views: tuple[tuple, ...] = ()  # (on, wellbeing)
    consultant_changes: tuple[dt.date, ...] = ()
    birth_family_conflicts: tuple[Span, ...] = ()
    supervision_overdue: tuple[Span, ...] = ()
    fee_renegotiations: tuple[Span, ...] = ()
    missed_sessions: tuple[dt.date, ...] = ()
    unmet_needs: tuple[Span, ...] = ()
    respite_days: tuple[dt.date, ...] = ()


def build_inputs(raw: RawPlacement) -> PlacementInputs:
    """The core's validated inputs (a bad value raises RiskInputError here, loudly)."""
    periods = lambda spans: tuple(Period(start, end) for start, end in spans)  # noqa: E731
    return PlacementInputs(
        placement_id=str(raw.placement_id),
        birth_date=raw.birth_date,
        placement_start=raw.placement_start,
        baseline=Baseline(*raw.baseline),
        attends_school=raw.attends_school,
        checkins=tuple(CheckIn(on, stress, help_now, sleep, conflicts, commitment, behaviours)
                       for on, stress, help_now, sleep, conflicts, commitment, behaviours in raw.checkins),
        sdq=tuple(SdqReport(on, informant, total, impact) for on, informant, total, impact in raw.sdq),
        absence=tuple(AbsenceMonth(month, total, unlawful) for month, total, unlawful in raw.absence),
        incidents=tuple(Incident(on, kind) for on, kind in raw.incidents),
        child_views=tuple(ChildView(on, wellbeing) for on, wellbeing in raw.child_views),
        system=SystemSignals(
            consultant_changes=raw.consultant_changes,
            birth_family_conflicts=periods(raw.birth_family_conflicts),
            supervision_overdue=periods(raw.supervision_overdue),
            fee_renegotiations=periods(raw.fee_renegotiations),
            missed_sessions=raw.missed_sessions,
            unmet_needs=periods(raw.unmet_needs),
            respite_days=raw.respite_days,
        ),
    )


_FIELDS: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool})


def plain(value: Any) -> Any:
    """Dataclasses, tuples and dates as JSON-ready data (faster than dataclasses.asdict)."""
    if value is None or type(value) in _SCALARS:  # most leaves: returned as they are, at once
        return value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(value):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    return value


def explain(inputs: PlacementInputs, *, config: RiskModelConfig, today: dt.date,
            context: dict | None = None) -> dict[str, Any]:
    """The core's score and suggestions for one placement: the columns and JSON of a RiskScore row."""
    core = score_placement(inputs, config=config, today=today)
    recs = recommend(core, inputs, today=today, config=config)
    trend = core.trend
    return {
        "as_of": core.as_of,
        "config_version": core.config_version,
        "level": core.level,
        "strain_level": core.strain_level,
        "data_sufficient": core.data_sufficient,
        "index": core.r,
        "coverage": core.coverage,
        "trend_direction": trend.direction,
        "trend_delta": trend.delta,
        "trend_slope": trend.slope_per_month,
        "drivers": plain(core.drivers),
        "detail": {
            "baseline": plain(core.baseline),
            "acute_events": plain(core.acute_events),
            "trend": {"direction": trend.direction, "delta": trend.delta, "slope_per_month": trend.slope_per_month,
                      "ewma": trend.ewma, "points": [[p.on.isoformat(), p.r] for p in trend.points]},
            "thresholds": plain(core.thresholds),
            "reasons": plain(core.reasons),
            "guidance": plain(core.guidance),
            "suggested_checkins_per_week": core.suggested_checkins_per_week,
            "recommendations": plain(recs),
            "context": context or {},
        },
    }


def explain_many(batch: Sequence[tuple[RawPlacement, dict]], config: RiskModelConfig,
                 today: dt.date) -> list[tuple[dict[str, Any], str, str]]:
    """For each (raw, context): the scalar columns, and the drivers and detail as JSON text.

    The unit of work sent to a scoring process. Serialising here, once, keeps the main process
    free for the database.
    """
    out = []
    for raw, context in batch:
        fields = explain(build_inputs(raw), config=config, today=today, context=context)
        drivers, detail = fields.pop("drivers"), fields.pop("detail")
        out.append((fields, json.dumps(drivers, ensure_ascii=False), json.dumps(detail, ensure_ascii=False)))
    return out
