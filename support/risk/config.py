"""The vocabulary and the versioned settings of the support-need index (Støttebehovsindeks).

Every number the model uses lives here as data, so that a municipality can read it, a settings
file can override it and every score can say which version produced it. The defaults follow the
starting design in /work/shared/research/risk-evidence.md (c); docs/risk-model.md explains each
value and where this version departs from the research.

Pure module: no Django imports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

# --- Vocabulary --------------------------------------------------------------------------------

DRIVER_CODES = ("behaviour", "carer_strain", "school", "commitment", "child_view", "system")
BASELINE_CODES = (
    "age_at_placement",
    "prior_placements",
    "residential_history",
    "non_kinship",
    "separated_from_siblings",
    "other_foster_children",
    "documented_maltreatment",
)
INCIDENT_KINDS = (
    "self_harm",
    "running_away",
    "violence",
    "police_contact",
    "hospital_admission",
    "placement_threatened",
)
SDQ_INFORMANTS = ("parent", "teacher", "self")
LEVELS = ("red", "yellow", "green", "no_data")


class RiskConfigError(ValueError):
    """A model configuration that cannot be used; the message names the offending setting."""


@dataclass(frozen=True)
class Text:
    """A short text in English and Danish. Consultants read Danish; the code and logs read English."""

    en: str
    da: str


DRIVER_LABELS = {
    "behaviour": Text("Child behaviour and emotional difficulties", "Barnets adfærd og trivsel"),
    "carer_strain": Text("Foster-carer strain", "Plejeforældrenes belastning"),
    "school": Text("School absence", "Skolefravær"),
    "commitment": Text("Carer commitment", "Plejefamiliens tiltro til at fortsætte"),
    "child_view": Text("The child's own view", "Barnets egen oplevelse"),
    "system": Text("System and relational stressors", "Belastninger i samarbejdet omkring barnet"),
}
BASELINE_LABELS = {
    "age_at_placement": Text("Age at placement with this family", "Alder ved anbringelse i denne familie"),
    "prior_placements": Text("Earlier placements or breakdowns", "Tidligere anbringelser eller sammenbrud"),
    "residential_history": Text("Earlier residential care", "Tidligere døgninstitution"),
    "non_kinship": Text("Not a kinship (netværk) placement", "Ikke en netværksanbringelse"),
    "separated_from_siblings": Text("Separated from siblings", "Adskilt fra søskende"),
    "other_foster_children": Text("Other foster children in the home", "Andre plejebørn i hjemmet"),
    "documented_maltreatment": Text(
        "Documented maltreatment before placement", "Dokumenteret omsorgssvigt før anbringelsen"
    ),
}
INCIDENT_LABELS = {
    "self_harm": Text("self-harm", "selvskade"),
    "running_away": Text("running away / missing", "bortløb / savnet"),
    "violence": Text("violence", "vold"),
    "police_contact": Text("police contact", "kontakt med politiet"),
    "hospital_admission": Text("hospital admission", "hospitalsindlæggelse"),
    "placement_threatened": Text(
        "foster family says the placement may end", "plejefamilien siger, at anbringelsen kan ophøre"
    ),
    "help_now": Text("foster family asked for help now", "plejefamilien har bedt om hjælp nu"),
}
LEVEL_LABELS = {
    "red": Text("Red", "Rød"),
    "yellow": Text("Yellow", "Gul"),
    "green": Text("Green", "Grøn"),
    "no_data": Text("No recent data", "Ingen nye data"),
}


# --- Settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """One row of a normalisation table: inputs from `at_least` up to the next row map to `s`."""

    at_least: float
    s: float


Bands = tuple[Band, ...]


def _bands(*rows: tuple[float, float]) -> Bands:
    return tuple(Band(at_least=float(a), s=float(s)) for a, s in rows)


@dataclass(frozen=True)
class DriverWeights:
    """Points each dynamic driver adds to R at full severity; they sum to 100.

    Behaviour and carer strain are roughly proportional to the meta-analytic r (.35 and .29,
    Konijn et al. 2019); the rest are expert weights awaiting local re-estimation.
    """

    behaviour: float = 30.0
    carer_strain: float = 25.0
    school: float = 15.0
    commitment: float = 10.0
    child_view: float = 10.0
    system: float = 10.0

    def of(self, code: str) -> float:
        return float(getattr(self, code))


@dataclass(frozen=True)
class BaselineWeights:
    """Relative weights of the static history in B (context only); they sum to 100."""

    age_at_placement: float = 25.0
    prior_placements: float = 20.0
    residential_history: float = 15.0
    non_kinship: float = 15.0
    separated_from_siblings: float = 10.0
    other_foster_children: float = 10.0
    documented_maltreatment: float = 5.0

    def of(self, code: str) -> float:
        return float(getattr(self, code))


@dataclass(frozen=True)
class NormalisationTables:
    """How raw inputs become a severity s in [0, 1]. Every table must be non-decreasing.

    The SDQ rows are the UK 4-band tables; a municipality that chooses the Danish norms
    (Arnfred et al. 2019) overrides them here and gets a new version string.
    """

    sdq_parent: Bands = _bands((0, 0), (14, 0.33), (17, 0.67), (20, 1))
    sdq_teacher: Bands = _bands((0, 0), (12, 0.33), (16, 0.67), (19, 1))
    sdq_self: Bands = _bands((0, 0), (15, 0.33), (18, 0.67), (20, 1))
    sdq_impact_parent: Bands = _bands((0, 0), (1, 0.5), (2, 1))
    # Mean PDR-style count of problem behaviours in the last 24 h. Chamberlain 2006: up to 6 a
    # day was tolerated without more disruption; the steps above 6 are expert judgement.
    behaviour_count: Bands = _bands((0, 0), (7, 0.5), (10, 1))
    # Weekly check-in "stress 0-10", a single item standing in for PSS-10. Expert mapping, see
    # the model card: roughly the PSS-10 bands scaled to 0-10, without any validation.
    carer_stress: Bands = _bands((0, 0), (4, 0.33), (6, 0.67), (8, 1))
    absence_total: Bands = _bands((0, 0), (5, 0.33), (10, 0.67), (15, 1))
    # Unlawful absence of 10 % or more obliges the school to warn the parents: at least .67.
    unlawful_absence_floor_from: float = 10
    unlawful_absence_floor_s: float = 0.67
    # Commitment 0-10: s = (10 - x) / 10, and anything at or below this counts as 1.
    commitment_full_at_or_below: float = 4
    system_stressors: Bands = _bands((0, 0), (1, 0.5), (2, 1))


@dataclass(frozen=True)
class BaselineCoding:
    age_half_from: int = 6
    age_full_from: int = 12
    prior_placements: Bands = _bands((0, 0), (1, 0.5), (2, 1))
    other_foster_children: Bands = _bands((0, 0), (1, 1))
    medium_from: float = 30
    high_from: float = 60


@dataclass(frozen=True)
class Thresholds:
    """Levels from R (research c.5). High B lowers the R thresholds by `high_baseline_shift`."""

    red: float = 60
    red_if_rising: float = 45
    # Its own rule for new placements of a highly vulnerable child; not shifted again.
    red_first_year_high_baseline: float = 45
    first_year_days: int = 365
    yellow: float = 35
    yellow_if_rising: float = 25
    high_baseline_shift: float = 5
    persistence: float = 35
    persistence_cycles: int = 3
    persistence_window: int = 4
    jump_from_at_most: float = 0.33
    jump_to_at_least: float = 0.67
    sdq_parent_total_cutoff: int = 17
    sdq_parent_impact_cutoff: int = 2
    sdq_new_days: int = 30


@dataclass(frozen=True)
class TrendSettings:
    ewma_lambda: float = 0.3
    delta_cycles: int = 3
    rising_delta: float = 10
    cycle_days: int = 7
    history_cycles: int = 12
    slope_points: int = 6


@dataclass(frozen=True)
class DataSettings:
    """Cadences and what counts as missing. A source is stale after staleness_factor cadences."""

    checkin_cadence_days: int = 7
    sdq_cadence_days: int = 91
    child_view_cadence_days: int = 28
    absence_cadence_months: int = 1
    absence_quarter_months: int = 3
    staleness_factor: int = 2
    no_checkin_days: int = 21
    max_unknown_drivers: int = 2
    # Below this share of the applicable weight, R is too thin to raise an alarm on its own.
    min_known_weight_share: float = 0.5
    child_view_min_age: int = 7


@dataclass(frozen=True)
class EventSettings:
    acute_kinds: tuple[str, ...] = INCIDENT_KINDS
    acute_window_days: int = 30
    help_now_window_days: int = 14


@dataclass(frozen=True)
class SystemSettings:
    consultant_change_window_days: int = 182
    missed_sessions_window_days: int = 30
    missed_sessions_min: int = 2
    unmet_need_wait_days: int = 28


@dataclass(frozen=True)
class MonitoringSettings:
    """When to suggest the twice-weekly pulse (two thirds of breakdowns happen in year one)."""

    intensive_days: int = 91
    intensive_days_high_baseline: int = 182


@dataclass(frozen=True)
class RecommendationSettings:
    respite_gap_days: int = 90
    incident_window_days: int = 90
    absence_rise_points: float = 3
    aftercare_months: int = 12
    aftercare_urgent_months: int = 6
    conflict_escalate_days: int = 90


@dataclass(frozen=True)
class RiskModelConfig:
    """One published version of the model. Constructing one validates it."""

    version: str
    weights: DriverWeights = field(default_factory=DriverWeights)
    baseline_weights: BaselineWeights = field(default_factory=BaselineWeights)
    tables: NormalisationTables = field(default_factory=NormalisationTables)
    baseline: BaselineCoding = field(default_factory=BaselineCoding)
    thresholds: Thresholds = field(default_factory=Thresholds)
    trend: TrendSettings = field(default_factory=TrendSettings)
    data: DataSettings = field(default_factory=DataSettings)
    events: EventSettings = field(default_factory=EventSettings)
    system: SystemSettings = field(default_factory=SystemSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    recommendations: RecommendationSettings = field(default_factory=RecommendationSettings)

    def __post_init__(self) -> None:
        _validate(self)


# --- Validation --------------------------------------------------------------------------------


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise RiskConfigError(message)


def _check_weights(name: str, weights: DriverWeights | BaselineWeights) -> None:
    values = {f.name: getattr(weights, f.name) for f in fields(weights)}
    for key, value in values.items():
        _check(
            isinstance(value, int | float) and math.isfinite(value) and value >= 0,
            f"{name}.{key} must be a number >= 0",
        )
    total = sum(values.values())
    # Weights are read as "points of 100"; anything else makes R and the thresholds disagree.
    _check(math.isclose(total, 100, abs_tol=1e-9), f"{name} must sum to 100 (they sum to {total:g})")


def _check_bands(name: str, bands: Bands) -> None:
    _check(len(bands) > 0, f"{name} needs at least one row")
    _check(bands[0].at_least == 0, f"{name} must start at 0 so every input has a value")
    for i, band in enumerate(bands):
        _check(0 <= band.s <= 1, f"{name}[{i}].s must lie in [0, 1]")
        if i:
            prev = bands[i - 1]
            _check(band.at_least > prev.at_least, f"{name} rows must have increasing at_least")
            # Non-decreasing s is what makes "a worse report never lowers the score" hold.
            _check(band.s >= prev.s, f"{name} must not decrease (row {i} lowers s)")


def _validate(c: RiskModelConfig) -> None:
    _check(isinstance(c.version, str) and c.version.strip() != "", "version must be a non-empty string")
    _check_weights("weights", c.weights)
    _check_weights("baseline_weights", c.baseline_weights)

    t = c.tables
    for f in fields(t):
        value = getattr(t, f.name)
        if isinstance(value, tuple):
            _check_bands(f"tables.{f.name}", value)
    _check(0 <= t.unlawful_absence_floor_s <= 1, "tables.unlawful_absence_floor_s must lie in [0, 1]")
    _check(0 <= t.unlawful_absence_floor_from <= 100, "tables.unlawful_absence_floor_from must be a percentage")
    _check(0 <= t.commitment_full_at_or_below < 10, "tables.commitment_full_at_or_below must lie in [0, 10)")

    b = c.baseline
    _check(0 < b.age_half_from < b.age_full_from, "baseline ages must satisfy 0 < age_half_from < age_full_from")
    _check_bands("baseline.prior_placements", b.prior_placements)
    _check_bands("baseline.other_foster_children", b.other_foster_children)
    _check(0 < b.medium_from < b.high_from <= 100, "baseline bands must satisfy 0 < medium_from < high_from <= 100")

    th = c.thresholds
    for name in ("red", "red_if_rising", "red_first_year_high_baseline", "yellow", "yellow_if_rising", "persistence"):
        _check(0 <= getattr(th, name) <= 100, f"thresholds.{name} must lie in [0, 100]")
    _check(th.yellow < th.red, "thresholds.yellow must be below thresholds.red")
    _check(th.red_if_rising <= th.red, "thresholds.red_if_rising must not exceed thresholds.red")
    _check(th.yellow_if_rising <= th.yellow, "thresholds.yellow_if_rising must not exceed thresholds.yellow")
    _check(0 <= th.high_baseline_shift <= th.yellow_if_rising, "thresholds.high_baseline_shift must lie in [0, yellow_if_rising]")
    _check(1 <= th.persistence_cycles <= th.persistence_window, "thresholds: 1 <= persistence_cycles <= persistence_window")
    _check(0 <= th.jump_from_at_most < th.jump_to_at_least <= 1, "thresholds: 0 <= jump_from_at_most < jump_to_at_least <= 1")
    _check(th.first_year_days >= 1 and th.sdq_new_days >= 1, "thresholds day counts must be >= 1")

    tr = c.trend
    _check(0 < tr.ewma_lambda <= 1, "trend.ewma_lambda must lie in (0, 1]")
    _check(tr.delta_cycles >= 1, "trend.delta_cycles must be >= 1")
    _check(tr.rising_delta > 0, "trend.rising_delta must be > 0")
    _check(tr.cycle_days >= 1, "trend.cycle_days must be >= 1")
    _check(tr.history_cycles > tr.delta_cycles, "trend.history_cycles must exceed trend.delta_cycles")
    _check(tr.history_cycles >= c.thresholds.persistence_window, "trend.history_cycles must cover the persistence window")
    _check(tr.slope_points >= 2, "trend.slope_points must be >= 2")

    d = c.data
    for name in ("checkin_cadence_days", "sdq_cadence_days", "child_view_cadence_days", "absence_cadence_months",
                 "absence_quarter_months", "staleness_factor", "no_checkin_days"):
        _check(getattr(d, name) >= 1, f"data.{name} must be >= 1")
    _check(0 <= d.max_unknown_drivers < len(DRIVER_CODES), "data.max_unknown_drivers is out of range")
    _check(0 <= d.min_known_weight_share <= 1, "data.min_known_weight_share must lie in [0, 1]")
    _check(d.child_view_min_age >= 0, "data.child_view_min_age must be >= 0")

    e = c.events
    unknown = set(e.acute_kinds) - set(INCIDENT_KINDS)
    _check(not unknown, f"events.acute_kinds has unknown kinds: {sorted(unknown)}")
    _check(e.acute_window_days >= 0 and e.help_now_window_days >= 0, "events windows must be >= 0")

    for group in (c.system, c.monitoring, c.recommendations):
        for f in fields(group):
            _check(getattr(group, f.name) >= 0, f"{type(group).__name__}.{f.name} must be >= 0")


# The published starting version. Change any value and you publish a new version string.
DEFAULT_CONFIG = RiskModelConfig(version="2026.1")


# --- Loading from settings ---------------------------------------------------------------------


def config_to_dict(config: RiskModelConfig) -> dict[str, Any]:
    """Plain JSON-ready data; `config_from_dict(config_to_dict(c)) == c`."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(asdict(config))


def config_from_dict(data: Mapping[str, Any], *, base: RiskModelConfig = DEFAULT_CONFIG) -> RiskModelConfig:
    """Build a validated configuration from settings.

    `data` may be complete or override only some keys of `base`; lists (band tables, acute
    kinds) replace the base list whole. `version` is always required, and a configuration that
    differs from `base` must not reuse base's version: scores record the version, so two
    different models under one version would make old scores impossible to explain.
    """
    if not isinstance(data, Mapping):
        raise RiskConfigError("the risk model configuration must be a mapping")
    if "version" not in data:
        raise RiskConfigError("version is required: every score records the version that produced it")
    merged = _merge(config_to_dict(base), data, "config")
    config = _build(RiskModelConfig, merged, "config")
    if config.version == base.version and config != base:
        raise RiskConfigError(
            f"settings differ from version {base.version} but reuse its version string; give them a new version"
        )
    return config


def _merge(base: dict[str, Any], override: Mapping[str, Any], path: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if key not in base:
            # A misspelt key would otherwise be ignored silently and the default kept.
            raise RiskConfigError(f"{path}.{key} is not a known setting")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise RiskConfigError(f"{path}.{key} must be a mapping")
            out[key] = _merge(base[key], value, f"{path}.{key}")
        else:
            out[key] = value
    return out


def _build(cls: type, data: Mapping[str, Any], path: str) -> Any:
    hints = get_type_hints(cls)
    kwargs = {f.name: _coerce(hints[f.name], data[f.name], f"{path}.{f.name}") for f in fields(cls)}
    try:
        return cls(**kwargs)
    except RiskConfigError:
        raise
    except (TypeError, ValueError) as exc:  # pragma: no cover - defensive
        raise RiskConfigError(f"{path}: {exc}") from exc


def _coerce(hint: Any, value: Any, path: str) -> Any:
    if is_dataclass(hint) and hint is not Band:
        if not isinstance(value, Mapping):
            raise RiskConfigError(f"{path} must be a mapping")
        return _build(hint, value, path)
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise RiskConfigError(f"{path} must be a list")
        return tuple(_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if hint is Band:
        if isinstance(value, Mapping):
            if set(value) != {"at_least", "s"}:
                raise RiskConfigError(f"{path} must have exactly the keys at_least and s")
            return Band(at_least=_number(value["at_least"], path), s=_number(value["s"], path))
        if isinstance(value, list | tuple) and len(value) == 2:
            return Band(at_least=_number(value[0], path), s=_number(value[1], path))
        raise RiskConfigError(f"{path} must be {{at_least, s}} or a pair [at_least, s]")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RiskConfigError(f"{path} must be a whole number")
        return value
    if hint is float:
        return _number(value, path)
    if hint is str:
        if not isinstance(value, str):
            raise RiskConfigError(f"{path} must be a string")
        return value
    raise RiskConfigError(f"{path}: unsupported setting type {hint!r}")  # pragma: no cover


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RiskConfigError(f"{path} must be a finite number")
    return float(value)
