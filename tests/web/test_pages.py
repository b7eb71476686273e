"""Sign-in, the role-aware start page, the workspace and the language switch."""

from __future__ import annotations

import pytest

from tests.web.conftest import add_need, text_of


@pytest.mark.parametrize("path", ["/", "/workspace/", "/workspace/matching/", "/workspace/matching/1/"])
def test_anonymous_visitor_is_sent_to_login(client, world, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_login_page_signs_in_and_lands_in_the_workspace(client, world):
    page = client.get("/login/")
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    response = client.post("/login/", {"username": "konsulent", "password": "pw-konsulent-123"}, follow=True)
    assert response.redirect_chain == [("/", 302), ("/workspace/", 302)]
    assert "Demo-barn A." in text_of(response)


def test_wrong_password_is_refused_with_a_message(client, world):
    response = client.post("/login/", {"username": "konsulent", "password": "wrong"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post_and_ends_the_session(client_for, world):
    client = client_for(world.consultant)
    assert client.get("/logout/").status_code == 200  # a page with the button, not a 405
    assert "_auth_user_id" in client.session
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/workspace/").status_code == 302


@pytest.mark.parametrize(
    ("who", "area"),
    [
        ("consultant", "/workspace/"),
        ("team_lead", "/workspace/"),
        ("foster_parent", "/portal/"),
        ("birth_parent", "/portal/"),
        ("provider_user", "/portal/"),
        ("administrator", "/admin/"),
    ],
)
def test_home_sends_each_role_to_its_area(client_for, world, who, area):
    response = client_for(getattr(world, who)).get("/")
    assert response.status_code == 302
    assert response["Location"] == area


def test_user_without_membership_gets_a_friendly_no_access_page(client_for, world):
    response = client_for(world.outsider).get("/")
    assert response.status_code == 200
    assert "Du har ikke adgang endnu" in text_of(response)


def test_workspace_lists_only_own_municipality_placements(client_for, world):
    add_need(world)
    add_need(world, recipient="child", minutes_per_session=60)
    response = client_for(world.consultant).get("/workspace/")
    assert response.status_code == 200
    text = text_of(response)
    assert "Demo-barn A." in text and "Familien Testrup (fiktiv)" in text
    assert "Demo-barn O." not in text and "Familien Eksempel (fiktiv)" not in text
    placement_row = next(row for row in response.context["placements"] if row.pk == world.placement.pk)
    assert placement_row.waiting_needs == 2
    assert list(response.context["placements"]) == [placement_row]


def test_team_lead_sees_the_municipality_and_odense_consultant_sees_only_odense(client_for, world):
    assert "Demo-barn A." in text_of(client_for(world.team_lead).get("/workspace/"))
    text = text_of(client_for(world.other_consultant).get("/workspace/"))
    assert "Demo-barn O." in text and "Demo-barn A." not in text


@pytest.mark.parametrize("who", ["foster_parent", "birth_parent", "provider_user", "administrator", "outsider"])
def test_workspace_is_not_found_for_everyone_but_staff(client_for, world, who):
    response = client_for(getattr(world, who)).get("/workspace/")
    assert response.status_code == 404
    assert "Demo-barn" not in text_of(response)


def test_pages_are_danish_by_default_and_english_after_the_switch(client_for, world):
    client = client_for(world.consultant)
    danish = client.get("/workspace/")
    assert '<html lang="da">' in danish.content.decode()
    assert "Aktive anbringelser" in text_of(danish)

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/workspace/"}, follow=True)
    assert response.redirect_chain[-1] == ("/workspace/", 302)
    english = text_of(response)
    assert '<html lang="en">' in response.content.decode()
    assert "Active placements" in english and "Aktive anbringelser" not in english
    assert "Log out" in english

    back = client.post("/i18n/setlang/", {"language": "da", "next": "/workspace/"}, follow=True)
    assert "Aktive anbringelser" in text_of(back)


def test_not_found_page_is_in_the_layout_and_gives_no_hints(client_for, world):
    response = client_for(world.consultant).get("/workspace/no-such-page/")
    assert response.status_code == 404
    assert "Siden blev ikke fundet" in text_of(response)
