"""The model configuration: defaults, validation, loading from settings, versioning."""

from __future__ import annotations

import dataclasses
import json

import pytest

from support.risk import DEFAULT_CONFIG, RiskConfigError, RiskModelConfig, config_from_dict, config_to_dict
from support.risk.config import DriverWeights

from .factories import score, settled


def test_the_default_is_version_2026_1_with_weights_of_100():
    assert DEFAULT_CONFIG.version == "2026.1"
    weights = dataclasses.asdict(DEFAULT_CONFIG.weights)
    assert weights == {"behaviour": 30, "carer_strain": 25, "school": 15, "commitment": 10, "child_view": 10, "system": 10}
    assert sum(dataclasses.asdict(DEFAULT_CONFIG.baseline_weights).values()) == 100
    assert DEFAULT_CONFIG.trend.ewma_lambda == 0.3


def test_configuration_round_trips_through_json():
    data = json.loads(json.dumps(config_to_dict(DEFAULT_CONFIG)))
    assert config_from_dict(data) == DEFAULT_CONFIG


def test_settings_may_override_part_of_the_default_under_a_new_version():
    config = config_from_dict({"version": "2026.1-odense", "thresholds": {"yellow": 30}})
    assert config.thresholds.yellow == 30
    assert config.thresholds.red == DEFAULT_CONFIG.thresholds.red
    assert config.weights == DEFAULT_CONFIG.weights


def test_band_rows_may_be_pairs_or_mappings():
    pairs = config_from_dict({"version": "a", "tables": {"carer_stress": [[0, 0], [5, 0.5], [8, 1]]}})
    maps = config_from_dict({"version": "a", "tables": {"carer_stress": [
        {"at_least": 0, "s": 0}, {"at_least": 5, "s": 0.5}, {"at_least": 8, "s": 1}]}})
    assert pairs == maps


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"weights": {"behaviour": 40}}, "sum to 100"),
        ({"weights": {"behaviour": -5, "school": 50}}, ">= 0"),
        ({"baseline_weights": {"documented_maltreatment": 10}}, "sum to 100"),
        ({"tables": {"carer_stress": [[0, 0], [5, 0.8], [8, 0.5]]}}, "must not decrease"),
        ({"tables": {"carer_stress": [[1, 0], [5, 1]]}}, "start at 0"),
        ({"tables": {"carer_stress": [[0, 0], [5, 1.5]]}}, "[0, 1]"),
        ({"tables": {"carer_stress": [[0, 0], [5, 0.5], [5, 1]]}}, "increasing"),
        ({"trend": {"ewma_lambda": 0}}, "ewma_lambda"),
        ({"trend": {"ewma_lambda": 1.5}}, "ewma_lambda"),
        ({"thresholds": {"yellow": 70}}, "yellow"),
        ({"thresholds": {"jump_from_at_most": 0.8}}, "jump"),
        ({"events": {"acute_kinds": ["self_harm", "bad_mood"]}}, "bad_mood"),
        ({"data": {"staleness_factor": 0}}, "staleness_factor"),
        ({"weights": {"behavior": 30}}, "not a known setting"),
        ({"trend": {"cycle_days": "7"}}, "whole number"),
        ({"trend": {"cycle_days": True}}, "whole number"),
        ({"weights": {"school": float("nan")}}, "finite"),
        ({"weights": 7}, "mapping"),
    ],
)
def test_invalid_settings_are_refused_with_a_message_naming_the_setting(override, message):
    with pytest.raises(RiskConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict({"version": "broken", **override})


def test_a_version_is_required():
    with pytest.raises(RiskConfigError, match="version"):
        config_from_dict({"weights": dict(config_to_dict(DEFAULT_CONFIG)["weights"])})


def test_changed_settings_may_not_reuse_the_published_version():
    with pytest.raises(RiskConfigError, match="new version"):
        config_from_dict({"version": "2026.1", "thresholds": {"red": 65}})
    assert config_from_dict({"version": "2026.1"}) == DEFAULT_CONFIG


def test_constructing_a_config_in_code_validates_it_too():
    with pytest.raises(RiskConfigError):
        RiskModelConfig(version="x", weights=DriverWeights(behaviour=50))
    with pytest.raises(RiskConfigError):
        RiskModelConfig(version=" ")


def test_each_score_records_the_version_that_produced_it():
    assert score(settled()).config_version == "2026.1"
    calibrated = config_from_dict({"version": "2027.1", "weights": {"behaviour": 35, "system": 5}})
    assert score(settled(), config=calibrated).config_version == "2027.1"


def test_the_configuration_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_CONFIG.version = "hacked"  # type: ignore[misc]
