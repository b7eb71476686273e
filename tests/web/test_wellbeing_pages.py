"""The well-being pages: the family's check-in and "we need help now", the consultant's placements by
level and trend, the alerts inbox and an alert's page, and a placement's timeline with charts.

Scores are computed by the real services (support.wellbeing.scoring) from signals inserted the way
tests/wellbeing does; every write under test goes through a page.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail

from support.models import (
    Alert,
    AlertKind,
    AlertStatus,
    CheckIn,
    Goal,
    Incident,
    NeedOrigin,
    RiskScore,
    ScoreAssessment,
    SupportNeed,
)
from support.wellbeing.alerts import top_drivers
from support.wellbeing.conf import alert_url
from support.wellbeing.goals import create_goal
from support.wellbeing.scoring import recompute_placements
from tests.web.conftest import text_of
from tests.web.test_markup import audit
from tests.wellbeing.conftest import NOW, TODAY, calm_history, checkins, days_ago, new_placement

STRAINED = {"stress": 7, "commitment": 5, "problem_behaviours": 7}  # yellow, respite suggested
CRISIS = {"stress": 9, "commitment": 2, "problem_behaviours": 11}  # red


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def score(*placements, now=NOW):
    recompute_placements(placement_ids=[p.pk for p in placements], now=now)


def strained_alert(world) -> Alert:
    """A placement that went from calm to strained: a level alert with drivers and recommendations."""
    calm_history(world.placement)
    score(world.placement, now=NOW - dt.timedelta(days=7))
    CheckIn.objects.filter(placement=world.placement, on__gt=days_ago(21)).delete()
    checkins(world.placement, [STRAINED] * 3)
    score(world.placement)
    return Alert.objects.get(placement=world.placement, kind=AlertKind.LEVEL_RISE)


def duplicate_ids(response) -> set[str]:
    """Element ids must be unique: labels, aria references and the browser tests rely on them."""
    ids = re.findall(r'\sid="([^"]+)"', response.content.decode())
    return {i for i in ids if ids.count(i) > 1}


def levels_in_order(page: str) -> list[str]:
    return re.findall(r'<tr id="placement-\d+" data-level="(\w+)"', page)


# --- Who may open what --------------------------------------------------------------------------------------------


STAFF_PAGES = ["/workspace/placements/", "/alerts/"]
FAMILY_PAGES = ["/portal/checkin/", "/portal/help-now/"]


@pytest.mark.parametrize("path", STAFF_PAGES + FAMILY_PAGES + ["/alerts/1/", "/workspace/placements/1/"])
def test_anonymous_visitor_is_sent_to_login(client, world, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(("who", "status"), [
    # Team leads take approval, oversight and pay decisions: no carers' signals (docs/wellbeing.md).
    ("consultant", 200), ("team_lead", 404), ("other_consultant", 200),
    ("foster_parent", 404), ("birth_parent", 404), ("provider_user", 404), ("outsider", 404),
])
@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_lists_are_for_staff_only(client_for, world, who, status, path):
    assert client_for(getattr(world, who)).get(path).status_code == status


@pytest.mark.parametrize(("who", "status"), [
    ("consultant", 200), ("team_lead", 404), ("other_consultant", 404),
    ("foster_parent", 404), ("birth_parent", 404), ("provider_user", 404), ("outsider", 404),
])
def test_an_alert_and_a_placement_page_open_only_in_their_municipality(client_for, world, who, status):
    alert = strained_alert(world)
    client = client_for(getattr(world, who))
    assert client.get(f"/alerts/{alert.pk}/").status_code == status
    assert client.get(f"/workspace/placements/{world.placement.pk}/").status_code == status
    # Writing is refused the same way: nothing changes.
    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {"ack-outcome": "contacted_family"})
    assert response.status_code == (302 if status == 200 else 404)


@pytest.mark.parametrize(("who", "status"), [
    ("foster_parent", 200), ("other_foster_parent", 404), ("birth_parent", 404), ("provider_user", 404),
    ("consultant", 404), ("outsider", 404),
])
@pytest.mark.parametrize("path", FAMILY_PAGES)
def test_check_in_and_help_now_are_for_the_placements_foster_family(client_for, world, who, status, path):
    assert client_for(getattr(world, who)).get(path).status_code == status


def test_the_alert_email_links_to_the_alert_page(client_for, world, settings):
    alert = strained_alert(world)
    settings.SITE_URL = "https://plejenet.example"
    assert alert_url(alert.pk) == f"https://plejenet.example/alerts/{alert.pk}/"
    assert client_for(world.consultant).get(f"/alerts/{alert.pk}/").status_code == 200


# --- The family's portal ---------------------------------------------------------------------------------------


def test_portal_shows_check_in_help_now_and_goals_without_the_childs_name(client_for, world):
    create_goal(placement=world.placement, by=world.consultant, title="Mindre skolefravær", indicator="absence_pct",
                baseline=20, target=10, direction="decrease", review_on=days_ago(-60), now=NOW)
    calm_history(world.placement)  # absence 3 % a month: the goal is achieved
    page = client_for(world.foster_parent).get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert 'id="checkin-form"' in html and 'id="help-now"' in html
    text = text_of(page)
    assert "never used for approval, oversight (tilsyn) or pay (vederlag)" in text
    assert "Mindre skolefravær" in text and "Achieved" in text
    assert world.child.display_name not in text
    assert not audit(page).problems and not duplicate_ids(page)


def test_portal_has_no_wellbeing_card_for_birth_parents_and_providers(client_for, world):
    for who in (world.birth_parent, world.provider_user):
        html = client_for(who).get("/portal/").content.decode()
        assert 'id="checkin-form"' not in html and 'id="help-now"' not in html


def test_check_in_is_recorded_and_the_family_is_thanked(client_for, world, django_capture_on_commit_callbacks):
    client = client_for(world.foster_parent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/checkin/", {
            "placement": world.placement.pk, "stress": "6", "sleep": "3", "conflicts": "2", "free_text": "Svær uge",
        }, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/portal/#wellbeing"
    checkin = CheckIn.objects.get()
    assert (checkin.stress, checkin.sleep, checkin.conflicts, checkin.help_now) == (6, 3, 2, False)
    assert checkin.on == TODAY and checkin.submitted_by == world.foster_parent
    assert RiskScore.objects.filter(placement=world.placement, latest=True).exists()  # re-scored after commit
    assert not Alert.objects.exists()
    page = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Your check-in has been sent" in text_of(page)


def test_check_in_errors_are_shown_next_to_their_fields(client_for, world):
    response = client_for(world.foster_parent).post(
        "/portal/checkin/", {"placement": world.placement.pk, "stress": "", "sleep": "9", "conflicts": "-1"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="checkin-form"' in html
    assert "Choose a number from 0 to 10." in html
    assert "Select a valid choice. 9 is not one of the available choices." in html
    assert "Ensure this value is greater than or equal to 0." in html
    assert html.count('aria-invalid="true"') >= 2
    assert not CheckIn.objects.exists()
    assert not audit(response).problems and not duplicate_ids(response)


def test_a_family_cannot_check_in_for_another_familys_placement(client_for, world):
    other = new_placement(world, household=world.other_foster_home)
    response = client_for(world.foster_parent).post("/portal/checkin/", {"placement": other.pk, "stress": "3"})
    assert response.status_code == 400
    assert not CheckIn.objects.exists()


def test_help_now_end_to_end_reaches_the_consultants_inbox(client_for, world, django_capture_on_commit_callbacks):
    world.consultant.email = "konsulent@aarhus.invalid"
    world.consultant.save()
    family = client_for(world.foster_parent)
    portal = family.get("/portal/").content.decode()
    assert 'href="/portal/help-now/"' in portal

    confirm = family.get("/portal/help-now/", HTTP_ACCEPT_LANGUAGE="en")
    assert confirm.status_code == 200
    assert 'id="help-now-confirm"' in confirm.content.decode()
    assert "call 112" in text_of(confirm)
    assert not Alert.objects.exists()  # the first press only asks

    with django_capture_on_commit_callbacks(execute=True):
        response = family.post("/portal/help-now/", {"placement": world.placement.pk, "stress": "9",
                                                      "free_text": "Han er løbet hjemmefra"})
    assert response.status_code == 302
    alert = Alert.objects.get(kind=AlertKind.HELP_NOW)
    assert alert.recipient == world.consultant and alert.status == AlertStatus.OPEN
    assert alert.checkin.help_now and alert.checkin.stress == 9

    # The email says only that there is something to look at, and links to the page.
    (email,) = mail.outbox
    assert f"/alerts/{alert.pk}/" in email.body and "løbet" not in email.body

    consultant = client_for(world.consultant)
    inbox = consultant.get("/alerts/", HTTP_ACCEPT_LANGUAGE="en")
    section = inbox.content.decode().split('id="alerts-inbox"')[1]
    assert f'id="alert-{alert.pk}"' in section and world.child.display_name in section
    detail = consultant.get(f"/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Han er løbet hjemmefra" in text_of(detail)
    assert "The foster family asked for help now" in text_of(detail)


def test_help_now_without_a_consultant_reaches_the_municipalitys_consultants(client_for, world):
    world.placement.consultant = None
    world.placement.save()
    response = client_for(world.foster_parent).post("/portal/help-now/", {"placement": world.placement.pk, "stress": "7"},
                                                    HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "The foster care team has been alerted" in text_of(response)
    alert = Alert.objects.get(kind=AlertKind.HELP_NOW)
    assert alert.recipient is None
    inbox = client_for(world.consultant).get("/alerts/").content.decode()
    assert f'id="alert-{alert.pk}"' in inbox


def test_help_now_needs_the_stress_answer_and_creates_nothing_without_it(client_for, world):
    response = client_for(world.foster_parent).post("/portal/help-now/", {"placement": world.placement.pk},
                                                    HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "Choose a number from 0 to 10." in response.content.decode()
    assert not Alert.objects.exists() and not CheckIn.objects.exists()


# --- My placements ----------------------------------------------------------------------------------------------


def test_my_placements_are_sorted_by_level_and_no_data_is_never_green(client_for, world):
    calm = world.placement
    calm_history(calm)
    strained = new_placement(world, name="Demo-barn Gul")
    calm_history(strained)
    CheckIn.objects.filter(placement=strained, on__gt=days_ago(21)).delete()
    checkins(strained, [STRAINED] * 3)
    crisis = new_placement(world, name="Demo-barn Rød")
    calm_history(crisis)
    CheckIn.objects.filter(placement=crisis, on__gt=days_ago(21)).delete()
    checkins(crisis, [CRISIS] * 3)
    silent = new_placement(world, name="Demo-barn Stille")  # scored, but nothing reported
    never = new_placement(world, name="Demo-barn Ny")  # not scored at all yet
    score(calm, strained, crisis, silent)
    assert RiskScore.objects.get(placement=silent, latest=True).level == "no_data"

    page = client_for(world.consultant).get("/workspace/placements/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert levels_in_order(html) == ["red", "no_data", "no_data", "yellow", "green"]
    rows = re.findall(r'<tr id="placement-(\d+)"', html)
    assert rows[:3] == [str(crisis.pk), str(silent.pk), str(never.pk)]
    for placement in (silent, never):
        row = html.split(f'id="placement-{placement.pk}"')[1].split("</tr>")[0]
        assert "level--no_data" in row and "No recent data" in row and "level--green" not in row
    # The drivers are named in words (the core's own labels); a probability never appears.
    red_row = html.split(f'id="placement-{crisis.pk}"')[1].split("</tr>")[0]
    top = top_drivers(RiskScore.objects.get(placement=crisis, latest=True).drivers)
    assert top and all(d["label"]["en"] in red_row for d in top)
    assert "%" not in re.sub(r"<progress[^>]*>.*?</progress>|\d+ %", "", html.split('id="my-placements"')[1])
    assert not audit(page).problems and not duplicate_ids(page)


def test_my_placements_shows_mine_by_default_and_all_on_request(client_for, world):
    mine = world.placement
    theirs = new_placement(world, name="Demo-barn Kollega", consultant=world.team_lead)
    client = client_for(world.consultant)
    html = client.get("/workspace/placements/").content.decode()
    assert f'id="placement-{mine.pk}"' in html and f'id="placement-{theirs.pk}"' not in html
    html = client.get("/workspace/placements/?show=all").content.decode()
    assert f'id="placement-{theirs.pk}"' in html
    # Odense's placement is never listed for Aarhus staff.
    assert f'id="placement-{world.odense_placement.pk}"' not in html


def test_my_placements_shows_open_needs_and_goal_progress(client_for, world):
    from tests.web.conftest import add_need

    add_need(world)
    create_goal(placement=world.placement, by=world.consultant, title="Færre konflikter", indicator="incident_count",
                baseline=4, target=1, direction="decrease", review_on=days_ago(-30), now=NOW)
    text = text_of(client_for(world.consultant).get("/workspace/placements/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Supervision" in text
    assert "Færre konflikter: Achieved" in text  # no incidents recorded in the window: 0 ≤ 1


# --- The alerts inbox and the alert page -------------------------------------------------------------------------


def test_alert_page_shows_drivers_and_turns_a_recommendation_into_a_need(client_for, world):
    alert = strained_alert(world)
    rec = next(r for r in alert.recommendations if r["service"] != "meeting")
    client = client_for(world.consultant)
    page = client.get(f"/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert 'id="alert-drivers"' in html and 'id="recommendations"' in html
    assert f'id="create-need-{rec["code"]}"' in html
    assert not audit(page).problems and not duplicate_ids(page)

    response = client.post(f"/alerts/{alert.pk}/recommendations/{rec['code']}/need/", {
        f"need-{rec['code']}-minutes_per_session": "90", f"need-{rec['code']}-sessions_per_week": "1",
        f"need-{rec['code']}-starts_on": TODAY.isoformat(),
    })
    assert response.status_code == 302
    need = SupportNeed.objects.get(origin=NeedOrigin.ALERT)
    assert need.placement == world.placement and need.service.code == rec["service"]
    page = client.get(f"/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "A support need was created from this." in text_of(page)
    # A second click is refused with a message, not a second need or a 500.
    again = client.post(f"/alerts/{alert.pk}/recommendations/{rec['code']}/need/", {
        f"need-{rec['code']}-minutes_per_session": "90", f"need-{rec['code']}-sessions_per_week": "1",
        f"need-{rec['code']}-starts_on": TODAY.isoformat(),
    })
    assert again.status_code in (200, 409) and SupportNeed.objects.filter(origin=NeedOrigin.ALERT).count() == 1


def test_unknown_recommendation_is_404(client_for, world):
    alert = strained_alert(world)
    response = client_for(world.consultant).post(f"/alerts/{alert.pk}/recommendations/nonsense/need/", {})
    assert response.status_code == 404


def test_acknowledge_needs_a_note_for_no_action_and_keeps_outcome_and_note(client_for, world):
    alert = strained_alert(world)
    client = client_for(world.consultant)
    unchosen = client.post(f"/alerts/{alert.pk}/acknowledge/", {"ack-acknowledgement_note": "Set"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert unchosen.status_code == 400 and "This field is required." in unchosen.content.decode()
    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {"ack-outcome": "no_action_needed"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "Say briefly why." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN

    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {
        "ack-outcome": "contacted_family", "ack-acknowledgement_note": "Ringet, aflastning aftalt",
    })
    assert response.status_code == 302 and response["Location"] == "/alerts/"
    alert.refresh_from_db()
    assert (alert.status, alert.outcome, alert.acknowledgement_note) == (
        AlertStatus.ACKNOWLEDGED, "contacted_family", "Ringet, aflastning aftalt")
    inbox = client.get("/alerts/?show=all").content.decode().split('id="alerts-inbox"')[1].split("</section>")[0]
    assert f'id="alert-{alert.pk}"' not in inbox


def test_override_needs_a_reason_and_agree_is_recorded(client_for, world):
    alert = strained_alert(world)
    client = client_for(world.consultant)
    response = client.post(f"/alerts/{alert.pk}/assess/", {"assess-decision": "override", "assess-assessed_level": "red"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "An override needs a reason." in response.content.decode()
    assert not ScoreAssessment.objects.exists()

    response = client.post(f"/alerts/{alert.pk}/assess/", {
        "assess-decision": "override", "assess-assessed_level": "red", "assess-reason": "Barnet har trukket sig",
    })
    assert response.status_code == 302
    assessment = ScoreAssessment.objects.get()
    assert (assessment.decision, assessment.assessed_level, assessment.score_id) == ("override", "red", alert.score_id)
    page = client.get(f"/alerts/{alert.pk}/")
    assert 'id="assessment-recorded"' in page.content.decode()


def test_inbox_lists_help_now_before_level_alerts(client_for, world, django_capture_on_commit_callbacks):
    level_alert = strained_alert(world)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world.foster_parent).post("/portal/help-now/", {"placement": world.placement.pk, "stress": "8"})
    help_alert = Alert.objects.get(kind=AlertKind.HELP_NOW)
    html = client_for(world.consultant).get("/alerts/").content.decode()
    assert html.index(f'id="alert-{help_alert.pk}"') < html.index(f'id="alert-{level_alert.pk}"')


# --- The placement page: charts, timeline, recording signals -----------------------------------------------------


def test_placement_page_has_accessible_svg_charts_and_a_timeline(client_for, world):
    alert = strained_alert(world)
    Incident.objects.create(municipality=world.aarhus, placement=world.placement, on=days_ago(5), kind="running_away")
    page = client_for(world.consultant).get(f"/workspace/placements/{world.placement.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    for chart in ("chart-risk", "chart-stress", "chart-absence", "chart-incidents"):
        svg = html.split(f'<figure class="chart" id="{chart}">')[1].split("</svg>")[0]
        assert 'role="img"' in svg and f'aria-labelledby="{chart}-title {chart}-desc"' in svg
        assert f'<title id="{chart}-title">' in svg and f'<desc id="{chart}-desc">' in svg
        assert f'id="{chart}-table"' in html
    risk = html.split('id="chart-risk"')[1].split("</figure>")[0]
    assert "not a probability" in risk
    assert "chart__marker--yellow" in risk and "Yellow from" in risk  # shape class and a written threshold
    assert re.search(r'points="[\d.]+,[\d.]+ [\d.]+,[\d.]+', risk)  # coordinates are not localised
    table = risk.split('id="chart-risk-table"')[1]
    assert "Yellow" in table and "Green" in table  # the level in words, per week
    text = text_of(page)
    assert "Running away / missing" in text and "Support-need level rose" in text
    assert f'href="/alerts/{alert.pk}/"' in html
    assert not audit(page).problems and not duplicate_ids(page)


def test_charts_read_danish_numbers_only_in_text_not_in_coordinates(client_for, world):
    strained_alert(world)
    html = client_for(world.consultant).get(f"/workspace/placements/{world.placement.pk}/").content.decode()
    for svg in re.findall(r"<svg class=\"chart__svg\".*?</svg>", html, flags=re.S):
        for attribute in re.findall(r' (?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"', svg):
            assert "," not in attribute


def test_staff_record_signals_from_the_placement_page(client_for, world, django_capture_on_commit_callbacks):
    client = client_for(world.consultant)
    url = f"/workspace/placements/{world.placement.pk}/record/"
    bad = client.post(url + "sdq/", {"sdq-on": TODAY.isoformat(), "sdq-informant": "teacher", "sdq-total": "41"},
                      HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400
    assert "Ensure this value is less than or equal to 40." in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(url + "incident/", {"incident-on": TODAY.isoformat(), "incident-kind": "violence"})
    assert ok.status_code == 302
    assert Incident.objects.get().kind == "violence"
    assert RiskScore.objects.get(placement=world.placement, latest=True).level == "red"
    future = client.post(url + "absence/", {"absence-month": "2027-01-01", "absence-total_pct": "5",
                                            "absence-unlawful_pct": "0"}, HTTP_ACCEPT_LANGUAGE="en")
    assert future.status_code == 400 and "Cannot be in the future." in future.content.decode()
    # A foster family cannot use the staff forms.
    family = client_for(world.foster_parent).post(url + "incident/", {"incident-on": TODAY.isoformat(),
                                                                      "incident-kind": "violence"})
    assert family.status_code == 404


def test_unknown_signal_kind_is_404(client_for, world):
    response = client_for(world.consultant).post(f"/workspace/placements/{world.placement.pk}/record/background/", {})
    assert response.status_code == 404


# --- Language ------------------------------------------------------------------------------------------------------


def test_pages_speak_danish_by_default_and_english_after_the_switch(client_for, world):
    alert = strained_alert(world)
    client = client_for(world.consultant)
    page = text_of(client.get(f"/alerts/{alert.pk}/"))
    assert "Anbefalede handlinger" in page and "Kvittér" in page
    assert "Recommended actions" not in page
    response = client.post("/i18n/setlang/", {"language": "en", "next": f"/alerts/{alert.pk}/"})
    assert response.status_code == 302
    page = text_of(client.get(f"/alerts/{alert.pk}/"))
    assert "Recommended actions" in page and "Acknowledge" in page

    family = client_for(world.foster_parent)
    text = text_of(family.get("/portal/"))
    assert "Vi har brug for hjælp nu" in text and "Ugentlig check-in" in text
    assert "aldrig til godkendelse, tilsyn eller vederlag" in text


def test_goal_is_listed_on_the_portal_only_for_its_family(client_for, world):
    Goal.objects.create(municipality=world.aarhus, placement=world.placement, title="Sove igennem", indicator="custom",
                        baseline=2, target=5, direction="increase", review_on=days_ago(-90))
    assert "Sove igennem" in text_of(client_for(world.foster_parent).get("/portal/"))
    assert "Sove igennem" not in text_of(client_for(world.other_foster_parent).get("/portal/"))


# --- The chart layout (pure) ------------------------------------------------------------------------------------


def test_chart_points_stay_inside_the_plot_and_an_empty_chart_says_so():
    from web import charts

    data = [charts.Datum(days_ago(14 - k), value, str(value), "red" if value > 60 else "green")
            for k, value in enumerate([0, 10, 150, 55])]
    chart = charts.build_chart(chart_id="c", title="T", description="D", y_label="Y", data=data, day_label=str,
                               y_max=100, shapes={"red": "square", "green": "circle"}, rules=[(35, "Yellow", "yellow")])
    assert len(chart.markers) == 4 and len(chart.rows) == 4
    for m in chart.markers:
        assert chart.plot_left <= m.x <= chart.plot_right and chart.plot_top <= m.y <= chart.plot_bottom
    assert chart.markers[2].y == chart.plot_top  # 150 is drawn at the top, the table keeps the true value
    assert chart.markers[2].path.startswith("M") and "h" in chart.markers[2].path  # a square, not a circle
    assert [t.anchor for t in chart.x_ticks] == ["start", "middle", "middle", "end"]
    assert chart.rules[0].label == "Yellow"

    empty = charts.build_chart(chart_id="e", title="T", description="D", y_label="Y", data=[], day_label=str)
    assert empty.is_empty and not empty.markers and not empty.line


# --- Deadlines on the placement page ------------------------------------------------------------------------------


def test_deadlines_are_listed_and_the_first_follow_up_asks_for_a_justified_cadence(client_for, world):
    from support.models import FollowUpCadence, Milestone, MilestoneStatus
    from support.wellbeing.milestones import refresh_milestones

    refresh_milestones(today=TODAY, now=NOW, placement_ids=[world.placement.pk], household_ids=[])
    follow_up = Milestone.objects.get(placement=world.placement, rule_code="follow_up", sequence=1)
    client = client_for(world.consultant)
    page = client.get(f"/workspace/placements/{world.placement.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    section = page.content.decode().split('id="deadlines"')[1].split("</section>")[0]
    assert f'id="milestone-{follow_up.pk}"' in section and "Overdue" in section
    assert not audit(page).problems and not duplicate_ids(page)

    url = f"/workspace/placements/{world.placement.pk}/deadlines/{follow_up.pk}/done/"
    key = f"milestone-{follow_up.pk}"
    refused = client.post(url, {f"{key}-note": "Holdt"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert "Required at the first follow-up." in refused.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.status != MilestoneStatus.DONE

    done = client.post(url, {f"{key}-note": "Holdt", f"{key}-cadence_months": "4",
                             f"{key}-cadence_justification": "Stabil anbringelse"})
    assert done.status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.status == MilestoneStatus.DONE and follow_up.done_by == world.consultant
    assert FollowUpCadence.objects.get(placement=world.placement).months == 4
    # Another municipality's consultant cannot mark it.
    other = Milestone.objects.filter(placement=world.placement, rule_code="child_plan").first()
    response = client_for(world.other_consultant).post(
        f"/workspace/placements/{world.placement.pk}/deadlines/{other.pk}/done/", {})
    assert response.status_code == 404


def test_acknowledging_twice_says_why_instead_of_failing(client_for, world):
    alert = strained_alert(world)
    client = client_for(world.consultant)
    first = client.post(f"/alerts/{alert.pk}/acknowledge/", {"ack-outcome": "meeting_planned"})
    assert first.status_code == 302
    again = client.post(f"/alerts/{alert.pk}/acknowledge/", {"ack-outcome": "meeting_planned"},
                        HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 409
    assert "no longer open" in again.content.decode()
    twice = client.post(f"/alerts/{alert.pk}/assess/", {"assess-decision": "agree"})
    assert twice.status_code == 302
    again = client.post(f"/alerts/{alert.pk}/assess/", {"assess-decision": "agree"}, HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 409 and "already assessed" in again.content.decode()
