"""Alerts: who gets them, de-duplication, the help-now path, email, and what consultants do next."""

from __future__ import annotations

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail

from support.errors import Conflict, DomainError, InvalidTransition, NotFoundInScope
from support.models import (
    Alert,
    AlertSupportNeed,
    CheckIn,
    EmailState,
    Membership,
    NeedOrigin,
    RiskScore,
    ScoreAssessment,
    Team,
)
from support.roles import Role
from support.wellbeing import alerts, signals
from support.wellbeing.scoring import recompute_placements
from tests.conftest import make_user
from tests.wellbeing.conftest import NOW, TODAY, calm_history, checkins, days_ago, latest, new_placement

LATER = NOW + dt.timedelta(hours=1)
STRAINED = {"stress": 7, "commitment": 5, "problem_behaviours": 7}  # R about 39: yellow; respite suggested
CRISIS = {"stress": 9, "commitment": 2, "problem_behaviours": 11}  # R well above 60: red


@pytest.fixture
def consultant_email(world):
    world.consultant.email = "konsulent@aarhus.invalid"
    world.consultant.save()
    return world.consultant.email


def _score(world, placement=None, now=NOW):
    recompute_placements(placement_ids=[(placement or world.placement).pk], now=now)


def _report(placement, answers, *, weeks=3):
    """The newest `weeks` check-ins (the last today) replaced by these answers."""
    CheckIn.objects.filter(placement=placement, on__gt=days_ago(7 * weeks)).delete()
    checkins(placement, [answers] * weeks)


def test_a_rise_to_yellow_alerts_the_responsible_consultant_with_drivers_and_suggestions(world):
    calm_history(world.placement)
    _score(world)
    assert not Alert.objects.exists()

    _report(world.placement, STRAINED)
    _score(world, now=LATER)

    alert = Alert.objects.get()
    assert (alert.kind, alert.key, alert.level, alert.previous_level) == ("level_rise", "level:yellow", "yellow", "green")
    assert alert.recipient == world.consultant and alert.placement == world.placement
    assert alert.score == latest(world.placement)
    assert alert.drivers[0]["code"] == "carer_strain"
    assert "respite_for_carer_strain" in [r["code"] for r in alert.recommendations]
    assert alert.status == "open"


def test_staying_at_the_same_level_does_not_alert_again(world):
    calm_history(world.placement)
    _report(world.placement, STRAINED)
    _score(world)
    _score(world, now=LATER)
    _score(world, now=LATER + dt.timedelta(days=1))

    assert Alert.objects.count() == 1


def test_a_rise_while_the_same_alert_is_open_is_counted_on_it_not_duplicated(world):
    calm_history(world.placement)
    _report(world.placement, STRAINED)
    _score(world)  # green -> yellow
    _report(world.placement, {})
    _score(world, now=LATER)  # back to green; the yellow alert is still open
    _report(world.placement, STRAINED)
    _score(world, now=LATER + dt.timedelta(hours=1))  # yellow again

    alert = Alert.objects.get()
    assert alert.repeat_count == 1
    assert alert.score == latest(world.placement)


def test_yellow_to_red_is_a_new_alert_and_after_acknowledging_a_new_rise_alerts_again(world):
    calm_history(world.placement)
    _report(world.placement, STRAINED)
    _score(world)
    _report(world.placement, CRISIS)
    _score(world, now=LATER)

    assert sorted(Alert.objects.values_list("key", flat=True)) == ["level:red", "level:yellow"]
    for alert in Alert.objects.all():
        alerts.acknowledge_alert(alert=alert, by=world.consultant, outcome="contacted_family", note="Ringet op.",
                                 now=LATER)
    _report(world.placement, {})
    _score(world, now=LATER + dt.timedelta(hours=1))
    _report(world.placement, CRISIS)
    _score(world, now=LATER + dt.timedelta(hours=2))

    assert Alert.objects.filter(status="open").get().key == "level:red"


def test_acknowledgement_keeps_the_note_and_outcome_and_happens_once(world):
    calm_history(world.placement)
    _report(world.placement, CRISIS)
    _score(world)
    alert = Alert.objects.get()

    with pytest.raises(DomainError):
        alerts.acknowledge_alert(alert=alert, by=world.consultant, outcome="no_action_needed", now=LATER)
    with pytest.raises(NotFoundInScope):
        alerts.acknowledge_alert(alert=alert, by=world.other_consultant, outcome="contacted_family", now=LATER)
    alerts.acknowledge_alert(alert=alert, by=world.team_lead, outcome="support_offered", note="Aflastning tilbudt.",
                             now=LATER)
    alert.refresh_from_db()
    assert (alert.status, alert.outcome, alert.acknowledgement_note) == ("acknowledged", "support_offered",
                                                                        "Aflastning tilbudt.")
    assert alert.acknowledged_by == world.team_lead and alert.acknowledged_at == LATER
    with pytest.raises(InvalidTransition):
        alerts.acknowledge_alert(alert=alert, by=world.consultant, outcome="other", note="x", now=LATER)


def test_help_now_alerts_at_once_and_emails_without_the_childs_name_or_the_familys_words(
    world, consultant_email, django_capture_on_commit_callbacks
):
    calm_history(world.placement, today=days_ago(7))
    secret = "Hun har slået sin lillebror, vi kan ikke mere"
    with django_capture_on_commit_callbacks(execute=True):
        checkin = signals.record_checkin(placement=world.placement, by=world.foster_parent, on=TODAY, stress=9,
                                         help_now=True, free_text=secret, now=NOW)

    alert = Alert.objects.get(kind="help_now")
    assert alert.recipient == world.consultant and alert.checkin == checkin
    assert alert.email_state == EmailState.SENT
    [message] = mail.outbox
    assert message.to == [consultant_email]
    text = message.subject + message.body
    assert world.child.display_name not in text
    assert secret not in text and "lillebror" not in text
    assert f"/alerts/{alert.pk}/" in message.body
    # The score was recomputed by the task after the commit: red, attached to the help-now alert,
    # and no second alert for the same event.
    score = latest(world.placement)
    assert score.level == "red"
    alert.refresh_from_db()
    assert alert.score == score and alert.recommendations == score.detail["recommendations"]
    assert Alert.objects.count() == 1
    # The free text is stored for the consultant, but not in the audit trail.
    from support.models import AuditEntry

    assert secret not in str(list(AuditEntry.objects.values_list("details", flat=True)))


def test_a_second_help_now_while_the_first_is_open_is_counted_not_re_alerted(world, consultant_email,
                                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signals.record_checkin(placement=world.placement, by=world.foster_parent, on=days_ago(1), stress=9,
                               help_now=True, now=NOW)
        signals.record_checkin(placement=world.placement, by=world.foster_parent, on=TODAY, stress=9,
                               help_now=True, now=NOW)

    alert = Alert.objects.get(kind="help_now")
    assert alert.repeat_count == 1
    assert len(mail.outbox) == 1


def test_shadow_mode_stores_level_alerts_without_email_but_help_now_is_still_sent(
    world, consultant_email, settings, django_capture_on_commit_callbacks
):
    settings.RISK_SHADOW_MODE = True
    calm_history(world.placement)
    _report(world.placement, CRISIS)
    with django_capture_on_commit_callbacks(execute=True):
        _score(world)
    level_alert = Alert.objects.get(kind="level_rise")
    assert level_alert.shadow and level_alert.email_state == EmailState.NOT_SENT
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        signals.record_checkin(placement=world.placement, by=world.foster_parent, on=TODAY, stress=9, help_now=True,
                               now=NOW)
    assert len(mail.outbox) == 1


def test_email_failures_are_retried_then_given_up_and_permanent_ones_stop_at_once(world, consultant_email):
    calm_history(world.placement)
    _report(world.placement, CRISIS)
    _score(world)
    alert = Alert.objects.get()

    with mock.patch("support.wellbeing.alerts.send_mail", side_effect=smtplib.SMTPServerDisconnected("gone")):
        assert alerts.send_pending_alert_emails(now=NOW) == 0
    alert.refresh_from_db()
    assert (alert.email_state, alert.email_attempts) == ("pending", 1)
    assert "SMTPServerDisconnected" in alert.email_last_error and alert.email_not_before > NOW
    assert alerts.send_pending_alert_emails(now=NOW) == 0  # not before its back-off
    with mock.patch("support.wellbeing.alerts.send_mail",
                    side_effect=smtplib.SMTPRecipientsRefused({consultant_email: (550, b"no such user")})):
        alerts.send_pending_alert_emails(now=NOW + dt.timedelta(hours=1))
    alert.refresh_from_db()
    assert alert.email_state == "failed" and alert.email_attempts == 2


def test_an_email_is_sent_once_even_if_the_sender_runs_twice(world, consultant_email):
    calm_history(world.placement)
    _report(world.placement, CRISIS)
    _score(world)

    assert alerts.send_pending_alert_emails(now=NOW) == 1
    assert alerts.send_pending_alert_emails(now=NOW) == 0
    assert len(mail.outbox) == 1
    assert world.child.display_name not in mail.outbox[0].body


def test_no_recipient_email_is_recorded_not_retried(world):
    calm_history(world.placement)
    _report(world.placement, CRISIS)
    _score(world)
    alerts.send_pending_alert_emails(now=NOW)

    alert = Alert.objects.get()
    assert alert.email_state == "not_sent" and "no email" in alert.email_last_error


# --- Recommendation -> support need ---------------------------------------------------------------------


def _alert_with_respite(world):
    calm_history(world.placement)
    _report(world.placement, STRAINED)
    _score(world)
    return Alert.objects.get()


def test_one_click_turns_a_recommendation_into_a_support_need_linked_to_the_alert(world):
    alert = _alert_with_respite(world)

    need = alerts.create_need_from_recommendation(
        alert=alert, recommendation_code="respite_for_carer_strain", by=world.consultant, minutes_per_session=1440,
        sessions_per_week="0.25", starts_on=TODAY + dt.timedelta(days=7), now=NOW,
    )

    assert need.origin == NeedOrigin.ALERT and need.status == "open"
    assert need.service.code == "respite" and need.recipient == "foster_household"
    assert need.recipient_household == world.foster_home and need.priority == 3
    assert need.alert_link.alert == alert
    assert need.reason.startswith("Høj belastning")
    with pytest.raises(Conflict):
        alerts.create_need_from_recommendation(
            alert=alert, recommendation_code="respite_for_carer_strain", by=world.consultant, minutes_per_session=60,
            sessions_per_week=1, starts_on=TODAY, now=NOW,
        )
    assert AlertSupportNeed.objects.count() == 1


def test_the_consultant_can_add_competences_but_not_act_outside_their_municipality(world):
    alert = _alert_with_respite(world)
    with pytest.raises(NotFoundInScope):
        alerts.create_need_from_recommendation(
            alert=alert, recommendation_code="respite_for_carer_strain", by=world.other_consultant,
            minutes_per_session=60, sessions_per_week=1, starts_on=TODAY, now=NOW,
        )
    with pytest.raises(DomainError) as err:
        alerts.create_need_from_recommendation(
            alert=alert, recommendation_code="no_such_rule", by=world.consultant, minutes_per_session=60,
            sessions_per_week=1, starts_on=TODAY, now=NOW,
        )
    assert err.value.code == "unknown_recommendation"
    need = alerts.create_need_from_recommendation(
        alert=alert, recommendation_code="respite_for_carer_strain", by=world.consultant, minutes_per_session=60,
        sessions_per_week=1, starts_on=TODAY, now=NOW, preferred_competences=["attachment"],
    )
    assert list(need.preferred_competences.values_list("code", flat=True)) == ["attachment"]


def test_a_meeting_recommendation_is_not_a_support_need(world):
    calm_history(world.placement)
    world.placement.school_absences.update(total_pct=16)
    _report(world.placement, STRAINED)
    _score(world)
    alert = Alert.objects.get()
    assert "school_cooperation_meeting" in [r["code"] for r in alert.recommendations]

    with pytest.raises(DomainError) as err:
        alerts.create_need_from_recommendation(
            alert=alert, recommendation_code="school_cooperation_meeting", by=world.consultant,
            minutes_per_session=60, sessions_per_week=1, starts_on=TODAY, now=NOW,
        )
    assert err.value.code == "not_a_support_need"


# --- Agree / override ------------------------------------------------------------------------------------


def test_override_needs_a_reason_and_a_different_level_and_is_recorded_once(world):
    calm_history(world.placement)
    _report(world.placement, CRISIS)
    _score(world)
    score = latest(world.placement)

    with pytest.raises(DomainError) as err:
        alerts.record_assessment(score=score, by=world.consultant, decision="override", assessed_level="yellow",
                                 now=NOW)
    assert "reason" in err.value.fields
    with pytest.raises(DomainError):
        alerts.record_assessment(score=score, by=world.consultant, decision="override", reason="x",
                                 assessed_level="red", now=NOW)
    assessment = alerts.record_assessment(score=score, by=world.consultant, decision="override",
                                          reason="Kendt, forbigående; familien har aflastning i weekenden.",
                                          assessed_level="yellow", now=NOW)
    assert assessment.assessed_level == "yellow"
    with pytest.raises(Conflict):
        alerts.record_assessment(score=score, by=world.consultant, decision="agree", now=NOW)
    with pytest.raises(NotFoundInScope):
        alerts.record_assessment(score=score, by=world.outsider, decision="agree", now=NOW)


def test_team_lead_gets_override_rates_per_consultant_and_team(world):
    second = make_user("konsulent2")
    Membership.objects.create(user=second, role=Role.CONSULTANT, municipality=world.aarhus,
                              team=Team.objects.create(municipality=world.aarhus, name="Familieplejen Syd"))
    scores = []
    for i in range(4):
        p = new_placement(world, name=f"O{i}", consultant=world.consultant if i < 3 else second)
        calm_history(p)
        _report(p, CRISIS)
        _score(world, p)
        scores.append(latest(p))
    unassessed = new_placement(world, name="U", consultant=second)
    calm_history(unassessed)
    _report(unassessed, CRISIS)
    _score(world, unassessed)

    alerts.record_assessment(score=scores[0], by=world.consultant, decision="agree", now=NOW)
    alerts.record_assessment(score=scores[1], by=world.consultant, decision="agree", now=NOW)
    alerts.record_assessment(score=scores[2], by=world.consultant, decision="override", reason="Kender familien.",
                             assessed_level="yellow", now=NOW)
    alerts.record_assessment(score=scores[3], by=second, decision="override", reason="Mere alvorligt end vist.",
                             assessed_level="red" if scores[3].level != "red" else "yellow", now=NOW)

    report = alerts.override_rates(municipality_id=world.aarhus.pk, since=NOW - dt.timedelta(days=1),
                                   until=NOW + dt.timedelta(days=1))
    mine = report.by_consultant[world.consultant.pk]
    assert (mine.assessed, mine.agreed, mine.overridden, mine.override_rate) == (3, 2, 1, 0.333)
    assert mine.overridden_lower == 1
    theirs = report.by_consultant[second.pk]
    assert (theirs.override_rate, theirs.unassessed_flags) == (1.0, 1)
    assert report.by_team[world.team.pk].assessed == 3
    assert report.total.assessed == 4 and report.total.override_rate == 0.5
    assert report.consultant_names[second.pk] == "konsulent2"
    assert ScoreAssessment.objects.count() == 4 and RiskScore.objects.count() == 5
