"""The few settings this package reads, each with a default that lets a fresh clone run.

    RISK_MODEL = {...}        optional overrides of the published model (must carry a new "version")
    RISK_SHADOW_MODE = False  store scores and alerts, but email no level alerts (model card § 13)
    MILESTONE_RULES = {...}   optional overrides of the milestone rules (must carry a new "version")
    SITE_URL                  already in config/settings.py; used for links in emails
"""

from __future__ import annotations

from django.conf import settings

from support.risk import DEFAULT_CONFIG, RiskModelConfig, config_from_dict

# Where the alert page will live; emails link here and never carry the case itself.
ALERT_PATH = "/alerts/{id}/"


def risk_config() -> RiskModelConfig:
    """The model version in force: DEFAULT_CONFIG unless settings.RISK_MODEL overrides it."""
    data = getattr(settings, "RISK_MODEL", None)
    if not data:
        return DEFAULT_CONFIG
    return config_from_dict(data)


def milestone_rules():
    """The milestone rules in force: DEFAULT_RULES unless settings.MILESTONE_RULES overrides them."""
    from support.wellbeing.rules import rules_from_settings

    return rules_from_settings(getattr(settings, "MILESTONE_RULES", None))


def shadow_mode() -> bool:
    return bool(getattr(settings, "RISK_SHADOW_MODE", False))


def alert_url(alert_id: int) -> str:
    return getattr(settings, "SITE_URL", "").rstrip("/") + ALERT_PATH.format(id=alert_id)
