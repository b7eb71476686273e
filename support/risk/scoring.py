"""Score one placement: the support-need index R, its level, trend and reasons.

`score_placement` is the only entry point. It takes everything it needs as arguments (inputs,
configuration, `today`) and returns a frozen `RiskScore` that explains itself: each driver's
severity, weight and contribution, the baseline shown as context, the acute events, the trend,
and the reasons for the level in English and Danish. It suggests; a consultant decides. Nothing
here is a probability of breakdown, and nothing here decides anything about a child.

How unknown drivers are handled (model card, "Missing data"): a driver with no fresh report is
left out of R, and R is renormalised over the weight that *is* known, so R reads "severity on
the evidence we have" on the same 0-100 scale. Counting unknown drivers as 0 would make silence
look like good news; instead silence shows as the "no_data" level, and R only raises an alarm
when at least `min_known_weight_share` of the applicable weight is known.

Pure module: no Django imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .config import (
    BASELINE_LABELS,
    DEFAULT_CONFIG,
    DRIVER_CODES,
    DRIVER_LABELS,
    INCIDENT_LABELS,
    RiskModelConfig,
    Text,
)
from .drivers import KNOWN, NOT_APPLICABLE, UNKNOWN, DriverReading, band_value, latest_sdq, read_drivers
from .inputs import PlacementInputs, RiskInputError, age_on
from .trend import RISING, Trend, TrendPoint, summarise

RED, YELLOW, GREEN, NO_DATA = "red", "yellow", "green", "no_data"


@dataclass(frozen=True)
class DriverScore:
    code: str
    label: Text
    status: str  # "known" | "unknown" | "not_applicable"
    s: float | None  # severity 0..1; None unless known
    weight: float  # the published weight, points of 100
    effective_weight: float  # the weight after renormalising over the known drivers; 0 unless known
    contribution: float  # points of R from this driver: effective_weight x s
    evidence: tuple[Text, ...]


@dataclass(frozen=True)
class BaselineFactor:
    code: str
    label: Text
    b: float  # 0, .5 or 1
    weight: float
    contribution: float
    value: Text


@dataclass(frozen=True)
class BaselineScore:
    """Static history, 0-100. Context and monitoring intensity only; never a reason for a flag."""

    b: float
    band: str  # "low" | "medium" | "high"
    factors: tuple[BaselineFactor, ...]


@dataclass(frozen=True)
class AcuteEvent:
    on: date
    kind: str  # an incident kind, or "help_now"
    label: Text


@dataclass(frozen=True)
class Reason:
    """One human-readable reason. `level` is what it argues for; "context" never sets a level."""

    code: str
    level: str  # "red" | "yellow" | "no_data" | "green" | "context"
    text: Text
    drivers: tuple[str, ...] = ()


@dataclass(frozen=True)
class EffectiveThresholds:
    """The R thresholds actually applied (after the high-baseline shift), shown with the score."""

    red: float
    red_if_rising: float
    red_first_year_high_baseline: float
    yellow: float
    yellow_if_rising: float
    persistence: float
    shifted_by: float


@dataclass(frozen=True)
class RiskScore:
    placement_id: str
    as_of: date
    config_version: str
    level: str  # "red" | "yellow" | "green" | "no_data"
    strain_level: str  # "red" | "yellow" | "green" from the known data, before the data check
    data_sufficient: bool
    r: float | None  # support-need index 0-100 over the known drivers (one decimal)
    coverage: float  # share of the applicable weight that is known, 0..1
    drivers: tuple[DriverScore, ...]
    baseline: BaselineScore
    acute_events: tuple[AcuteEvent, ...]
    trend: Trend
    thresholds: EffectiveThresholds
    reasons: tuple[Reason, ...]
    guidance: Text
    suggested_checkins_per_week: int

    def driver(self, code: str) -> DriverScore:
        for d in self.drivers:
            if d.code == code:
                return d
        raise KeyError(code)


_GUIDANCE = {
    RED: Text(
        "Review within 2 working days: talk with the child and the foster family. The index suggests; you decide.",
        "Gennemgå sagen inden for 2 arbejdsdage: tal med barnet og plejefamilien. Indekset foreslår; du beslutter.",
    ),
    YELLOW: Text(
        "Contact the family within 10 working days and agree 2-3 measurable goals. The index suggests; you decide.",
        "Kontakt familien inden for 10 arbejdsdage og aftal 2-3 målbare mål. Indekset foreslår; du beslutter.",
    ),
    NO_DATA: Text(
        "No recent data: contact the foster family. Missing data is not good news.",
        "Ingen nye data: kontakt plejefamilien. Manglende data er ikke gode nyheder.",
    ),
    GREEN: Text(
        "Nothing flagged by the index; keep the usual follow-up.",
        "Indekset markerer intet; fortsæt den sædvanlige opfølgning.",
    ),
}


def score_placement(inputs: PlacementInputs, *, config: RiskModelConfig = DEFAULT_CONFIG, today: date) -> RiskScore:
    """Score `inputs` as of `today` with `config`; the result records `config.version`."""
    if today < inputs.placement_start:
        raise RiskInputError(f"cannot score placement {inputs.placement_id} before it starts ({inputs.placement_start})")

    baseline = baseline_score(inputs, config=config)
    high_baseline = baseline.band == "high"
    thresholds = _effective_thresholds(config, high_baseline)

    # Re-score earlier cycles from the same inputs: the trend, the persistence rule and the jump
    # rule then use this version's weights throughout, and need no stored history. Only today's
    # readings are shown, so only they carry evidence texts; earlier cycles need s and status.
    cycles: list[tuple[date, tuple[DriverReading, ...], float | None, float]] = []
    for k in range(config.trend.history_cycles):
        day = today - timedelta(days=k * config.trend.cycle_days)
        if day < inputs.placement_start:
            break
        readings = read_drivers(inputs, day=day, config=config, explain=k == 0)
        r, coverage = _index(readings, config)
        cycles.append((day, readings, r, coverage))
    _, readings, r, coverage = cycles[0]
    alarm_ok = r is not None and coverage >= config.data.min_known_weight_share
    points = tuple(
        TrendPoint(on=day, r=value if value is not None and cov >= config.data.min_known_weight_share else None)
        for day, _, value, cov in reversed(cycles)
    )
    trend = summarise(points, config.trend)
    rising = trend.direction == RISING

    drivers = _driver_scores(readings, config)
    acute = acute_events(inputs, today=today, config=config)

    red: list[Reason] = []
    yellow: list[Reason] = []
    for event in acute:
        red.append(Reason("acute_event", RED, Text(
            f"Acute event on {event.on.isoformat()}: {event.label.en}",
            f"Akut hændelse den {event.on.isoformat()}: {event.label.da}",
        ), (event.kind,)))

    top = _top_drivers(drivers)
    top_en = ", ".join(f"{d.label.en} {d.contribution:.1f}" for d in top)
    top_da = ", ".join(f"{d.label.da} {d.contribution:.1f}".replace(".", ",") for d in top)
    top_codes = tuple(d.code for d in top)
    r_en = "" if r is None else f"{r:.1f}"
    r_da = r_en.replace(".", ",")
    d_en = "" if trend.delta is None else f"{trend.delta:+.1f}"
    d_da = d_en.replace(".", ",")

    if alarm_ok:
        assert r is not None
        if r >= thresholds.red:
            red.append(Reason("index_red", RED, Text(
                f"Support-need index {r_en} is at or above {thresholds.red:g} (largest: {top_en})",
                f"Støttebehovsindeks {r_da} er på eller over {thresholds.red:g} (størst: {top_da})",
            ), top_codes))
        if rising and r >= thresholds.red_if_rising:
            red.append(Reason("index_rising_red", RED, Text(
                f"Index {r_en} is at or above {thresholds.red_if_rising:g} and rising ({d_en} over "
                f"{config.trend.delta_cycles} cycles; largest: {top_en})",
                f"Indeks {r_da} er på eller over {thresholds.red_if_rising:g} og stigende ({d_da} over "
                f"{config.trend.delta_cycles} perioder; størst: {top_da})",
            ), top_codes))
        first_year = (today - inputs.placement_start).days < config.thresholds.first_year_days
        if first_year and high_baseline and r >= thresholds.red_first_year_high_baseline:
            red.append(Reason("first_year_high_baseline", RED, Text(
                f"Index {r_en} is at or above {thresholds.red_first_year_high_baseline:g} in the first year of a "
                f"placement with high baseline vulnerability (largest: {top_en})",
                f"Indeks {r_da} er på eller over {thresholds.red_first_year_high_baseline:g} i anbringelsens første år "
                f"med høj grundlæggende sårbarhed (størst: {top_da})",
            ), top_codes))
        if r >= thresholds.yellow:
            yellow.append(Reason("index_yellow", YELLOW, Text(
                f"Support-need index {r_en} is at or above {thresholds.yellow:g} (largest: {top_en})",
                f"Støttebehovsindeks {r_da} er på eller over {thresholds.yellow:g} (størst: {top_da})",
            ), top_codes))
        if rising and r >= thresholds.yellow_if_rising:
            yellow.append(Reason("index_rising_yellow", YELLOW, Text(
                f"Index {r_en} is rising ({d_en} over {config.trend.delta_cycles} cycles)",
                f"Indeks {r_da} er stigende ({d_da} over {config.trend.delta_cycles} perioder)",
            ), top_codes))
        recent = [value for _, _, value, cov in cycles[: config.thresholds.persistence_window]
                  if value is not None and cov >= config.data.min_known_weight_share]
        high_cycles = sum(1 for value in recent if value >= thresholds.persistence)
        if high_cycles >= config.thresholds.persistence_cycles:
            yellow.append(Reason("persistent_strain", YELLOW, Text(
                f"Index at or above {thresholds.persistence:g} in {high_cycles} of the last "
                f"{config.thresholds.persistence_window} cycles: lasting strain, not a blip",
                f"Indeks på eller over {thresholds.persistence:g} i {high_cycles} af de seneste "
                f"{config.thresholds.persistence_window} perioder: vedvarende belastning",
            ), top_codes))

    sdq = latest_sdq(inputs, "parent", today, config)
    if sdq is not None:
        th = config.thresholds
        total_high = sdq.total >= th.sdq_parent_total_cutoff
        impact_high = sdq.impact is not None and sdq.impact >= th.sdq_parent_impact_cutoff
        if total_high and impact_high and rising:
            red.append(Reason("sdq_both_rising", RED, Text(
                f"Carer SDQ total {sdq.total} and impact {sdq.impact} are both above cut-off, and the index is rising",
                f"Plejeforælders SDQ-total {sdq.total} og belastningsscore {sdq.impact} er begge over grænsen, "
                f"og indekset stiger",
            ), ("behaviour", "carer_strain")))
        if (total_high or impact_high) and (today - sdq.on).days <= th.sdq_new_days:
            yellow.append(Reason("sdq_new_above_cutoff", YELLOW, Text(
                f"New carer SDQ ({sdq.on.isoformat()}) above cut-off: total {sdq.total}, impact "
                f"{'-' if sdq.impact is None else sdq.impact}",
                f"Ny SDQ fra plejeforælder ({sdq.on.isoformat()}) over grænsen: total {sdq.total}, "
                f"belastningsscore {'-' if sdq.impact is None else sdq.impact}",
            ), ("behaviour", "carer_strain") if impact_high else ("behaviour",)))

    if len(cycles) > 1:
        yellow.extend(_jumps(cycles[1][1], readings, config))

    data_reasons = _data_reasons(inputs, drivers, coverage, today, config)
    data_sufficient = not data_reasons

    strain_level = RED if red else YELLOW if yellow else GREEN
    # Red beats "no data": missing data must never hide an acute event or a high index.
    # "No data" beats yellow and green: silence is never shown as good news.
    level = RED if red else strain_level if data_sufficient else NO_DATA

    reasons = [*red, *data_reasons, *yellow]
    if level == GREEN:
        trend_text = {"rising": ("rising", "stigende"), "falling": ("falling", "faldende"),
                      "steady": ("steady", "stabil"), "unknown": ("not yet known", "endnu ukendt")}[trend.direction]
        reasons.append(Reason("no_rule_fired", GREEN, Text(
            f"No warning rule fired: index {r_en} is below {thresholds.yellow:g}; trend {trend_text[0]}",
            f"Ingen advarselsregel er udløst: indeks {r_da} er under {thresholds.yellow:g}; udvikling {trend_text[1]}",
        )))
    if r is not None and not alarm_ok:
        reasons.append(Reason("index_too_thin", "context", Text(
            f"Index {r_en} rests on only {coverage:.0%} of the evidence, so it raises no alarm on its own",
            f"Indeks {r_da} bygger kun på {coverage:.0%} af grundlaget og udløser derfor ingen alarm alene",
        )))
    if high_baseline:
        reasons.append(Reason("baseline_high", "context", Text(
            f"Baseline vulnerability is high (B = {baseline.b:.0f}): index thresholds are {thresholds.shifted_by:g} "
            "points lower. History alone never raises an alert.",
            f"Grundlæggende sårbarhed er høj (B = {baseline.b:.0f}): grænserne for indekset er {thresholds.shifted_by:g} "
            "point lavere. Historik alene udløser aldrig en alarm.",
        )))

    intensive = config.monitoring.intensive_days_high_baseline if high_baseline else config.monitoring.intensive_days
    return RiskScore(
        placement_id=inputs.placement_id,
        as_of=today,
        config_version=config.version,
        level=level,
        strain_level=strain_level,
        data_sufficient=data_sufficient,
        r=r,
        coverage=round(coverage, 3),
        drivers=drivers,
        baseline=baseline,
        acute_events=acute,
        trend=trend,
        thresholds=thresholds,
        reasons=tuple(reasons),
        guidance=_GUIDANCE[level],
        suggested_checkins_per_week=2 if (today - inputs.placement_start).days < intensive else 1,
    )


# --- Parts, public so the service layer and the tests can use them alone ------------------------


def baseline_score(inputs: PlacementInputs, *, config: RiskModelConfig = DEFAULT_CONFIG) -> BaselineScore:
    """B = Σ vⱼ·bⱼ over the static history (research c.3)."""
    base, coding, weights = inputs.baseline, config.baseline, config.baseline_weights
    age = age_on(inputs.birth_date, inputs.placement_start)
    prior = max(base.prior_placements, base.prior_breakdowns)
    yes_no = {True: Text("yes", "ja"), False: Text("no", "nej")}
    rows = {
        "age_at_placement": (
            0.0 if age < coding.age_half_from else 0.5 if age < coding.age_full_from else 1.0,
            Text(f"{age} years", f"{age} år"),
        ),
        "prior_placements": (
            band_value(coding.prior_placements, prior),
            Text(f"{base.prior_placements} placement(s), {base.prior_breakdowns} breakdown(s)",
                 f"{base.prior_placements} anbringelse(r), {base.prior_breakdowns} sammenbrud"),
        ),
        "residential_history": (float(base.residential_history), yes_no[base.residential_history]),
        "non_kinship": (0.0 if base.kinship else 1.0, yes_no[not base.kinship]),
        "separated_from_siblings": (float(base.separated_from_siblings), yes_no[base.separated_from_siblings]),
        "other_foster_children": (
            band_value(coding.other_foster_children, base.other_foster_children),
            Text(str(base.other_foster_children), str(base.other_foster_children)),
        ),
        "documented_maltreatment": (float(base.documented_maltreatment), yes_no[base.documented_maltreatment]),
    }
    factors = tuple(
        BaselineFactor(code, BASELINE_LABELS[code], b, weights.of(code), round(weights.of(code) * b, 1), value)
        for code, (b, value) in rows.items()
    )
    b_total = round(sum(weights.of(f.code) * f.b for f in factors), 1)
    band = "high" if b_total >= coding.high_from else "medium" if b_total >= coding.medium_from else "low"
    return BaselineScore(b=b_total, band=band, factors=factors)


def acute_events(inputs: PlacementInputs, *, today: date, config: RiskModelConfig = DEFAULT_CONFIG) -> tuple[AcuteEvent, ...]:
    """Acute incidents and "we need help now" flags inside their windows, newest first.

    These are hard triggers, not weights (research b.6): each one makes the level red whatever
    R is and whatever data is missing.
    """
    ev = config.events
    found = [
        AcuteEvent(i.on, i.kind, INCIDENT_LABELS[i.kind])
        for i in inputs.incidents
        if i.kind in ev.acute_kinds and today - timedelta(days=ev.acute_window_days) <= i.on <= today
    ]
    found += [
        AcuteEvent(c.on, "help_now", INCIDENT_LABELS["help_now"])
        for c in inputs.checkins
        if c.help_now and today - timedelta(days=ev.help_now_window_days) <= c.on <= today
    ]
    return tuple(sorted(found, key=lambda e: (e.on, e.kind), reverse=True))


def _index(readings: tuple[DriverReading, ...], config: RiskModelConfig) -> tuple[float | None, float]:
    """R renormalised over the known drivers, and the known share of the applicable weight."""
    weight = _weights(config)
    applicable = [d for d in readings if d.status != NOT_APPLICABLE]
    known = [d for d in applicable if d.status == KNOWN]
    w_applicable = sum([weight[d.code] for d in applicable])
    w_known = sum([weight[d.code] for d in known])
    coverage = w_known / w_applicable if w_applicable else 0.0
    if w_known == 0:
        return None, coverage
    # Rounded before any threshold is applied, so what a person sees is what was compared.
    r = round(100 * sum([weight[d.code] * d.s for d in known]) / w_known, 1)  # type: ignore[operator]
    return r, coverage


_WEIGHTS: dict[int, tuple[RiskModelConfig, dict[str, float]]] = {}


def _weights(config: RiskModelConfig) -> dict[str, float]:
    """`config.weights.of(code)` for every driver, looked up once per configuration (it is frozen)."""
    cached = _WEIGHTS.get(id(config))
    if cached is None or cached[0] is not config:
        cached = _WEIGHTS[id(config)] = (config, {code: config.weights.of(code) for code in DRIVER_CODES})
    return cached[1]


def _driver_scores(readings: tuple[DriverReading, ...], config: RiskModelConfig) -> tuple[DriverScore, ...]:
    w_known = sum(config.weights.of(d.code) for d in readings if d.status == KNOWN)
    out = []
    for d in readings:
        weight = config.weights.of(d.code)
        effective = 100 * weight / w_known if d.status == KNOWN and w_known else 0.0
        contribution = effective * d.s if d.s is not None else 0.0
        out.append(DriverScore(
            code=d.code,
            label=DRIVER_LABELS[d.code],
            status=d.status,
            s=d.s,
            weight=weight,
            effective_weight=round(effective, 1),
            contribution=round(contribution, 1),
            evidence=d.evidence,
        ))
    return tuple(out)


def _effective_thresholds(config: RiskModelConfig, high_baseline: bool) -> EffectiveThresholds:
    th = config.thresholds
    shift = th.high_baseline_shift if high_baseline else 0.0
    return EffectiveThresholds(
        red=th.red - shift,
        red_if_rising=th.red_if_rising - shift,
        # This rule exists only for high B, so it is not shifted a second time.
        red_first_year_high_baseline=th.red_first_year_high_baseline,
        yellow=th.yellow - shift,
        yellow_if_rising=th.yellow_if_rising - shift,
        persistence=th.persistence - shift,
        shifted_by=shift,
    )


def _top_drivers(drivers: tuple[DriverScore, ...], n: int = 3) -> list[DriverScore]:
    contributing = [d for d in drivers if d.status == KNOWN and d.contribution > 0]
    return sorted(contributing, key=lambda d: d.contribution, reverse=True)[:n]


def _jumps(previous: tuple[DriverReading, ...], current: tuple[DriverReading, ...], config: RiskModelConfig) -> list[Reason]:
    """A driver that went from low (<= .33) to high (>= .67) in one cycle (research c.4)."""
    th = config.thresholds
    reasons = []
    for before, now in zip(previous, current, strict=True):
        if before.status != KNOWN or now.status != KNOWN:
            continue
        if before.s <= th.jump_from_at_most and now.s >= th.jump_to_at_least:  # type: ignore[operator]
            label = DRIVER_LABELS[now.code]
            was, is_ = f"{before.s:.2f}", f"{now.s:.2f}"
            reasons.append(Reason("driver_jump", YELLOW, Text(
                f"{label.en} jumped from {was} to {is_} since the last cycle",
                f"{label.da} steg fra {was.replace('.', ',')} til {is_.replace('.', ',')} siden sidste periode",
            ), (now.code,)))
    return reasons


def _data_reasons(inputs: PlacementInputs, drivers: tuple[DriverScore, ...], coverage: float, today: date,
                  config: RiskModelConfig) -> list[Reason]:
    """Why the data is too thin to call the placement green or yellow (empty when it is not)."""
    data = config.data
    reasons = []
    unknown = [d for d in drivers if d.status == UNKNOWN and d.weight > 0]
    if len(unknown) > data.max_unknown_drivers:
        names = [d.label for d in unknown]
        reasons.append(Reason("unknown_drivers", NO_DATA, Text(
            f"{len(unknown)} drivers have no recent data: {', '.join(n.en for n in names)}",
            f"{len(unknown)} drivere mangler nye data: {', '.join(n.da for n in names)}",
        ), tuple(d.code for d in unknown)))
    # Three weeks without a pulse means three missed weekly check-ins: the newest must be younger.
    since = today - timedelta(days=data.no_checkin_days)
    checkins = [c for c in inputs.checkins if c.on <= today]
    if not checkins or checkins[-1].on <= since:
        last = "never" if not checkins else checkins[-1].on.isoformat()
        last_da = "aldrig" if not checkins else checkins[-1].on.isoformat()
        reasons.append(Reason("no_recent_checkin", NO_DATA, Text(
            f"No check-in from the foster family in the last {data.no_checkin_days} days (last: {last})",
            f"Ingen check-in fra plejefamilien de seneste {data.no_checkin_days} dage (seneste: {last_da})",
        )))
    if coverage < data.min_known_weight_share:
        reasons.append(Reason("low_coverage", NO_DATA, Text(
            f"Only {coverage:.0%} of the index's weight has recent data",
            f"Kun {coverage:.0%} af indeksets vægt har nye data",
        )))
    return reasons
