"""The support-need index (Støttebehovsindeks): early warning of strain in a foster placement.

A pure core: frozen dataclasses in, frozen dataclasses out, no Django and no clock. The service
layer loads `PlacementInputs`, calls `score_placement` and `recommend`, stores the result with its
`config_version`, and shows it with its reasons. docs/risk-model.md is the model card.

    score = score_placement(inputs, config=DEFAULT_CONFIG, today=today)
    suggestions = recommend(score, inputs, today=today)
"""

from .config import (
    DEFAULT_CONFIG,
    DRIVER_CODES,
    INCIDENT_KINDS,
    LEVEL_LABELS,
    LEVELS,
    RiskConfigError,
    RiskModelConfig,
    Text,
    config_from_dict,
    config_to_dict,
)
from .drivers import DriverReading, read_drivers
from .inputs import (
    AbsenceMonth,
    Baseline,
    CheckIn,
    ChildView,
    Incident,
    Period,
    PlacementInputs,
    RiskInputError,
    SdqReport,
    SystemSignals,
)
from .recommendations import (
    COMPETENCE_CODES,
    MEETING,
    MEETING_KINDS,
    RECIPIENTS,
    SERVICE_CODES,
    Recommendation,
    recommend,
)
from .scoring import (
    AcuteEvent,
    BaselineFactor,
    BaselineScore,
    DriverScore,
    EffectiveThresholds,
    Reason,
    RiskScore,
    acute_events,
    baseline_score,
    score_placement,
)
from .trend import Trend, TrendPoint

__all__ = [
    "COMPETENCE_CODES",
    "DEFAULT_CONFIG",
    "DRIVER_CODES",
    "INCIDENT_KINDS",
    "LEVELS",
    "LEVEL_LABELS",
    "MEETING",
    "MEETING_KINDS",
    "RECIPIENTS",
    "SERVICE_CODES",
    "AbsenceMonth",
    "AcuteEvent",
    "Baseline",
    "BaselineFactor",
    "BaselineScore",
    "CheckIn",
    "ChildView",
    "DriverReading",
    "DriverScore",
    "EffectiveThresholds",
    "Incident",
    "Period",
    "PlacementInputs",
    "Reason",
    "Recommendation",
    "RiskConfigError",
    "RiskInputError",
    "RiskModelConfig",
    "RiskScore",
    "SdqReport",
    "SystemSignals",
    "Text",
    "Trend",
    "TrendPoint",
    "acute_events",
    "baseline_score",
    "config_from_dict",
    "config_to_dict",
    "read_drivers",
    "recommend",
    "score_placement",
]
