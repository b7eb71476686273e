"""Each recommendation rule: when it fires, what it carries, and when it stays quiet."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from support.risk import (
    COMPETENCE_CODES,
    DEFAULT_CONFIG,
    MEETING,
    MEETING_KINDS,
    RECIPIENTS,
    SERVICE_CODES,
    Baseline,
    Incident,
    Period,
    SdqReport,
    SystemSignals,
    config_from_dict,
    recommend,
)

from .factories import TODAY, absence_months, days_ago, score, settled, weekly_checkins


def recs(inputs, config=DEFAULT_CONFIG):
    return recommend(score(inputs, config=config), inputs, today=TODAY, config=config)


def by_code(inputs):
    return {r.code: r for r in recs(inputs)}


def test_a_settled_placement_gets_no_suggestions():
    assert recs(settled()) == []


# --- Respite ----------------------------------------------------------------------------------

def stressed(**changes):
    return settled(checkins=weekly_checkins(stress=7), **changes)


def test_high_carer_strain_without_recent_respite_suggests_respite():
    rec = by_code(stressed())["respite_for_carer_strain"]
    assert (rec.service, rec.recipient, rec.meeting_kind) == ("respite", "foster_household", None)
    assert rec.triggers == ("carer_strain",)
    assert rec.label.da.startswith("Aflastning")
    assert "no respite" in rec.reason.en


def test_respite_is_not_suggested_when_it_happened_recently_or_strain_is_moderate():
    recent = stressed(system=SystemSignals(respite_days=(days_ago(30),)))
    assert "respite_for_carer_strain" not in by_code(recent)
    long_ago = stressed(system=SystemSignals(respite_days=(days_ago(91),)))
    assert "respite_for_carer_strain" in by_code(long_ago)
    moderate = settled(checkins=weekly_checkins(stress=5))
    assert "respite_for_carer_strain" not in by_code(moderate)


# --- Self-harm --------------------------------------------------------------------------------

def test_recent_self_harm_suggests_a_psychologist_with_self_harm_competence_at_top_priority():
    rec = by_code(settled(incidents=(Incident(days_ago(10), "self_harm"),)))["psychologist_for_self_harm"]
    assert (rec.service, rec.recipient) == ("psychologist", "child")
    assert rec.required_competences == ("self_harm",)
    assert rec.priority == 5
    assert rec.triggers == ("incident:self_harm",)


def test_older_self_harm_is_still_suggested_with_lower_priority_and_expires_after_90_days():
    assert by_code(settled(incidents=(Incident(days_ago(60), "self_harm"),)))["psychologist_for_self_harm"].priority == 4
    assert "psychologist_for_self_harm" not in by_code(settled(incidents=(Incident(days_ago(91), "self_harm"),)))


def test_documented_maltreatment_makes_trauma_a_preferred_not_required_competence():
    inputs = settled(incidents=(Incident(days_ago(10), "self_harm"),), baseline=Baseline(documented_maltreatment=True))
    rec = by_code(inputs)["psychologist_for_self_harm"]
    assert rec.required_competences == ("self_harm",) and rec.preferred_competences == ("trauma",)


# --- School -----------------------------------------------------------------------------------

def test_rising_school_absence_suggests_a_school_cooperation_meeting():
    rising = (*absence_months(2, last=date(2025, 11, 1), months=6), *absence_months(8, last=date(2026, 2, 1), months=3))
    rec = by_code(settled(absence=rising))["school_cooperation_meeting"]
    assert (rec.service, rec.meeting_kind, rec.recipient) == (MEETING, "school_cooperation", "child")
    assert rec.required_competences == ()
    assert rec.triggers == ("school",)
    assert "up 6.0 points" in rec.reason.en


def test_high_school_absence_suggests_a_meeting_with_school_refusal_competence():
    rec = by_code(settled(absence=absence_months(16, unlawful=4)))["school_cooperation_meeting"]
    assert rec.required_competences == ("school_refusal",)
    assert rec.priority == 3


def test_low_or_flat_school_absence_suggests_nothing():
    assert "school_cooperation_meeting" not in by_code(settled(absence=absence_months(6)))
    assert "school_cooperation_meeting" not in by_code(settled(absence=()))


# --- Specialised supervision ------------------------------------------------------------------

def test_carer_strain_with_complex_behaviour_suggests_specialised_supervision():
    inputs = stressed(sdq=(SdqReport(days_ago(105), "parent", 20, impact=0),),
                      incidents=(Incident(days_ago(50), "violence"),))
    rec = by_code(inputs)["specialised_supervision"]
    assert (rec.service, rec.recipient) == ("supervision", "foster_household")
    assert rec.required_competences == ("violence",)
    assert set(rec.triggers) == {"carer_strain", "behaviour"}


def test_carer_strain_alone_does_not_suggest_specialised_supervision():
    assert "specialised_supervision" not in by_code(stressed())


# --- Birth-family conflict --------------------------------------------------------------------

def test_a_fresh_birth_family_conflict_suggests_home_guidance_for_the_birth_parents():
    inputs = settled(system=SystemSignals(birth_family_conflicts=(Period(days_ago(30)),)))
    rec = by_code(inputs)["birth_family_conflict_home_guidance"]
    assert (rec.service, rec.recipient) == ("home_guidance", "birth_household")
    assert "stressor:birth_family_conflict" in rec.triggers


def test_an_entrenched_birth_family_conflict_suggests_family_therapy():
    inputs = settled(system=SystemSignals(birth_family_conflicts=(Period(days_ago(120)),)))
    codes = by_code(inputs)
    assert "birth_family_conflict_family_therapy" in codes
    assert "birth_family_conflict_home_guidance" not in codes


def test_a_resolved_conflict_suggests_nothing():
    inputs = settled(system=SystemSignals(birth_family_conflicts=(Period(days_ago(120), days_ago(5)),)))
    assert recs(inputs) == []


# --- Turning 18 -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("birth_date", "expected_priority"),
    [
        (date(2009, 1, 10), 2),  # 18 on 2027-01-10: within 12 months, more than 6
        (date(2008, 9, 1), 4),  # 18 on 2026-09-01: within 6 months, the ungestøtte decision is due
        (date(2008, 7, 1), 4),
        (date(2009, 4, 1), None),  # 18 on 2027-04-01: more than 12 months away
        (date(2008, 3, 1), None),  # already 18
    ],
)
def test_approaching_18_suggests_aftercare_planning(birth_date, expected_priority):
    inputs = settled(birth_date=birth_date, placement_start=date(2024, 1, 15))
    rec = by_code(inputs).get("aftercare_planning")
    if expected_priority is None:
        assert rec is None
    else:
        assert (rec.service, rec.meeting_kind, rec.recipient) == (MEETING, "aftercare_planning", "child")
        assert rec.priority == expected_priority and rec.triggers == ("age",)


# --- Shape and ordering -----------------------------------------------------------------------

def everything():
    return stressed(
        birth_date=date(2008, 9, 1),
        sdq=(SdqReport(days_ago(105), "parent", 20, impact=2),),
        absence=absence_months(16, unlawful=12),
        incidents=(Incident(days_ago(5), "self_harm"), Incident(days_ago(5), "police_contact")),
        system=SystemSignals(birth_family_conflicts=(Period(days_ago(20)),)),
    )


def test_every_recommendation_carries_what_a_support_need_needs():
    out = recs(everything())
    assert {r.code for r in out} == {
        "respite_for_carer_strain", "psychologist_for_self_harm", "school_cooperation_meeting",
        "specialised_supervision", "birth_family_conflict_home_guidance", "aftercare_planning",
    }
    for r in out:
        assert r.service in SERVICE_CODES or (r.service == MEETING and r.meeting_kind in MEETING_KINDS)
        assert (r.meeting_kind is None) == (r.service != MEETING)
        assert r.recipient in RECIPIENTS
        assert set(r.required_competences) <= set(COMPETENCE_CODES)
        assert set(r.preferred_competences) <= set(COMPETENCE_CODES)
        assert 1 <= r.priority <= 5
        assert r.triggers
        assert r.label.en and r.label.da and r.reason.en and r.reason.da
    assert [r.priority for r in out] == sorted((r.priority for r in out), reverse=True)
    supervision = next(r for r in out if r.code == "specialised_supervision")
    assert supervision.required_competences == ("self_harm", "violence")


def test_a_red_placement_raises_driver_based_priorities_by_one():
    calm_conflict = settled(system=SystemSignals(birth_family_conflicts=(Period(days_ago(30)),)))
    red_conflict = dataclasses.replace(calm_conflict, incidents=(Incident(days_ago(2), "running_away"),))
    assert by_code(calm_conflict)["birth_family_conflict_home_guidance"].priority == 2
    assert by_code(red_conflict)["birth_family_conflict_home_guidance"].priority == 3


def test_recommendations_refuse_a_score_from_another_model_version():
    other = config_from_dict({"version": "2026.1-test", "trend": {"ewma_lambda": 0.5}})
    with pytest.raises(ValueError, match="model"):
        recommend(score(settled()), settled(), today=TODAY, config=other)
