# ruff: noqa: F811  (the fixtures imported from tests/api/sessions_world.py are parameters here)
"""Who sees and changes session series, occurrences, their history and meetings.

The tables are the specification, as in test_permissions.py: every endpoint x every role x own /
other household's / birth parents' / other municipality's object. A list holds exactly the rows
the role may see, a detail answers 200 or 404, a write answers 2xx (or the 409 the object's state
calls for) for a consultant in the object's municipality, 403 for someone who sees it but may
not change it, and 404 for everyone else; a refused write changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.urls import reverse

from scheduler.models import SessionOccurrence, SessionSeries
from support.models import HouseholdKind, ProviderAbsence
from tests.api.conftest import ROLES, build_api_world
from tests.api.sessions_world import assign, build_sessions_world, frozen  # noqa: F401  (fixtures)
from tests.conftest import build_world, make_household
from tests.module_data import built_once, fresh_copy
from tests.sessions.helpers import NOW, add_placement, add_provider, local

SERIES_KEYS = ("own", "other_home", "birth", "odense")
MEETING_KEYS = ("meeting", "other_meeting", "odense_meeting")

OBJECTS = {
    "session-series": {k: (lambda s, k=k: s.series[k]) for k in SERIES_KEYS},
    "session-occurrence": {k: (lambda s, k=k: s.occurrence(k)) for k in SERIES_KEYS},
    "session-change": {k: (lambda s, k=k: s.change(k)) for k in SERIES_KEYS},
    "meeting": {k: (lambda s, k=k: s.meetings[k]) for k in MEETING_KEYS},
}

SERIES_VISIBLE = {
    "consultant": {"own", "other_home", "birth"}, "team_lead": {"own", "other_home", "birth"},
    "other_consultant": {"odense"},
    "foster_parent": {"own"},  # the foster home's own sessions
    "birth_parent": {"birth"},  # their own only, never the foster home's
    "provider_user": {"own", "other_home", "birth"},  # its own sessions, in every household
    "administrator": set(), "outsider": set(),  # administrators configure; they do not read cases
}
VISIBLE = {
    "session-series": SERIES_VISIBLE,
    "session-occurrence": SERIES_VISIBLE,
    "session-change": SERIES_VISIBLE,
    "meeting": {
        "consultant": {"meeting", "other_meeting"}, "team_lead": {"meeting", "other_meeting"},
        "other_consultant": {"odense_meeting"},
        "foster_parent": {"meeting"}, "birth_parent": {"meeting"},  # invited to the placement's meeting
        "provider_user": {"meeting", "other_meeting"},  # it supports both placements, so is invited
        "administrator": set(), "outsider": set(),
    },
}
WRITER = {**dict.fromkeys((*SERIES_KEYS, *MEETING_KEYS), "consultant"), "odense": "other_consultant",
          "odense_meeting": "other_consultant"}


@pytest.fixture(scope="module")
def _sessions_world_once(request, django_db_setup, django_db_blocker):
    """The tables read the world and roll back what they write: built once for the module."""

    def build():
        a = build_api_world(build_world())
        with time_machine.travel(NOW, tick=False):
            return build_sessions_world(a)

    yield from built_once(request, django_db_blocker, build)


@pytest.fixture
def sessions_world(_sessions_world_once, request, db, frozen):
    return fresh_copy(_sessions_world_once, request)


def url(endpoint: str, pk=None, action: str | None = None) -> str:
    if action:
        return reverse(f"api:{endpoint}-{action}", args=[pk] if pk is not None else [])
    return reverse(f"api:{endpoint}-list") if pk is None else reverse(f"api:{endpoint}-detail", args=[pk])


def series_of(obj) -> int:
    return obj.pk if isinstance(obj, SessionSeries) else obj.series_id


@pytest.mark.parametrize("endpoint", list(VISIBLE))
@pytest.mark.parametrize("role", ROLES)
def test_list_holds_exactly_the_rows_the_role_may_see(sessions_world, client_for, endpoint, role):
    s = sessions_world
    visible = VISIBLE[endpoint][role]
    response = client_for(s.a.user(role)).get(url(endpoint), {"page_size": 200})
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    if endpoint == "meeting":
        assert {r["id"] for r in rows} == {s.meetings[k].pk for k in visible}
    elif endpoint == "session-series":
        assert {r["id"] for r in rows} == {s.series[k].pk for k in visible}
    else:  # every occurrence / change of exactly the visible series
        assert {r["series"] for r in rows} == {s.series[k].pk for k in visible}
        model = SessionOccurrence if endpoint == "session-occurrence" else type(s.change("own"))
        assert len(rows) == model.objects.filter(series__in=[s.series[k] for k in visible]).count()
    assert response.json()["count"] == len(rows)


@pytest.mark.parametrize("endpoint", list(VISIBLE))
@pytest.mark.parametrize("role", ROLES)
def test_detail_answers_200_when_visible_and_404_otherwise(sessions_world, client_for, endpoint, role):
    s = sessions_world
    client = client_for(s.a.user(role))
    for key, find in OBJECTS[endpoint].items():
        obj = find(s)
        response = client.get(url(endpoint, obj.pk))
        if key in VISIBLE[endpoint][role]:
            assert response.status_code == 200, (key, response.content)
            assert response.json()["id"] == obj.pk
        else:
            assert response.status_code == 404, (key, response.content)
            error = response.json()["error"]
            assert (error["code"], error["fields"]) == ("not_found", {})


@pytest.mark.parametrize("role", ROLES)
def test_providers_and_birth_parents_never_read_child_names_or_staff_notes(sessions_world, client_for, role):
    s = sessions_world
    from scheduler.services import sessions as services

    services.cancel_occurrence(occurrence=s.occurrence("own"), reason="Fortrolig grund (fiktiv)", by=s.a.w.consultant,
                               now=NOW)
    client = client_for(s.a.user(role))
    text = "".join(
        json.dumps(client.get(url(endpoint), {"page_size": 200}).json()) for endpoint in VISIBLE
    )
    staff = role in ("consultant", "team_lead")
    assert ("Fortrolig grund" in text) == staff
    names = {s.a.w.child.display_name, s.a.other_child.display_name}
    reads_child = staff or role == "foster_parent"
    assert any(name in text for name in names) == reads_child, role
    if role == "foster_parent":
        assert s.a.other_child.display_name not in text


# --- Writes on objects ----------------------------------------------------------------------------------------


def _plus_a_week(obj) -> str:
    return (obj.start + dt.timedelta(days=7)).isoformat()


WRITES = [
    # endpoint, action, body (or a function of the object), what the writer gets on these active objects
    ("session-series", "confirm", None, 409),  # already active: a decided thing
    ("session-series", "decline", {"reason": "Passer ikke"}, 409),
    ("session-series", "end", {"last_date": "2026-12-31", "reason": "Støtten slutter"}, 200),
    ("session-series", "change-from", {"from_date": "2026-12-01", "interval_weeks": 4, "reason": "Sjældnere"}, 200),
    ("session-occurrence", "move", lambda o: {"new_start": _plus_a_week(o), "reason": "Ferie"}, 200),
    ("session-occurrence", "cancel", {"reason": "Sygdom"}, 200),
    ("session-occurrence", "accept-replacement", None, 409),  # nothing proposed
    ("meeting", "move", lambda o: {"new_start": _plus_a_week(o), "reason": "Ferie", "allow_missing": True}, 200),
    ("meeting", "cancel", {"reason": "Aflyst"}, 200),
]


def _state(obj):
    obj.refresh_from_db()
    return (obj.status, obj.sequence, getattr(obj, "start", None))


@pytest.mark.parametrize(("endpoint", "action", "body", "ok"), WRITES, ids=[f"{w[0]}-{w[1]}" for w in WRITES])
@pytest.mark.parametrize("role", ROLES)
def test_writes_are_for_consultants_in_the_objects_municipality(
    sessions_world, client_for, endpoint, action, body, ok, role
):
    s = sessions_world
    client = client_for(s.a.user(role))
    for key, find in OBJECTS[endpoint].items():
        obj = find(s)
        before = _state(obj)
        data = body(obj) if callable(body) else body
        response = client.post(url(endpoint, obj.pk, action), data, format="json")
        expected = ok if WRITER[key] == role else 403 if key in VISIBLE[endpoint][role] else 404
        assert response.status_code == expected, (key, response.content)
        if response.status_code >= 400:
            assert _state(obj) == before, key
            assert response.json()["error"]["code"] in {"permission_denied", "not_found", "invalid_transition",
                                                       "no_replacement"}


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_the_history_can_only_be_read(sessions_world, client_for, role):
    s = sessions_world
    client = client_for(None if role == "anonymous" else s.a.user(role))
    change = s.change("own")
    expected = 401 if role == "anonymous" else 405
    assert client.post(url("session-change"), {}, format="json").status_code == expected
    for method in (client.put, client.patch, client.delete):
        assert method(url("session-change", change.pk)).status_code == expected


# --- Creating ------------------------------------------------------------------------------------------------


def _respite_need(s):
    w = s.a.w
    home = make_household(w.aarhus, "Aflastningsfamilien (fiktiv)", kind=HouseholdKind.RESPITE, foster_type="almen",
                          approved_places=2, latitude=56.20, longitude=10.10)
    provider = add_provider(w, "Aflastningsfamilien (fiktiv)", service="respite", lat=56.20, lon=10.10, household=home)
    from support import services

    need = services.create_support_need(
        placement=add_placement(w, "Weekend"), recipient="foster_household", service="respite",
        minutes_per_session=60 * 50, sessions_per_week="0.25", starts_on=dt.date(2026, 11, 2), by=w.consultant,
    )
    return assign(need, provider)


def _session_need(s):
    w = s.a.w
    from support import services

    need = services.create_support_need(
        placement=add_placement(w, "Ny"), recipient="foster_household", service="supervision",
        minutes_per_session=60, sessions_per_week="0.5", starts_on=dt.date(2026, 11, 2), by=w.consultant,
    )
    return assign(need, w.provider)


CREATES = {
    # name: (url, body builder, field that names Aarhus, status for the consultant)
    "propose": (lambda: url("session-series"), lambda s: {"need": _session_need(s).pk}, "need", 201),
    "respite": (lambda: url("session-series", action="respite"), lambda s: {"need": _respite_need(s).pk}, "need", 201),
    "meeting": (
        lambda: url("meeting"),
        lambda s: {"placement": s.a.w.placement.pk, "kind": "start_up", "start": local(2026, 11, 12, 10).isoformat(),
                   "allow_missing": True},
        "placement", 201,
    ),
    "search": (
        lambda: url("meeting", action="search"),
        lambda s: {"placement": s.a.w.placement.pk, "window_start": local(2026, 11, 9).isoformat(),
                   "window_end": local(2026, 11, 14).isoformat()},
        "placement", 200,
    ),
    "absence": (
        lambda: url("provider-absence"),
        lambda s: {"provider": s.a.w.provider.pk, "starts_at": local(2026, 11, 16).isoformat(),
                   "ends_at": local(2026, 11, 21).isoformat(), "reason": "vacation"},
        "provider", 201,
    ),
}


@pytest.mark.parametrize("name", list(CREATES))
@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_create_is_for_consultants_and_only_in_their_municipality(sessions_world, client_for, name, role):
    s = sessions_world
    path, build, aarhus_field, ok = CREATES[name]
    body = build(s)
    counts = (SessionSeries.objects.count(), ProviderAbsence.objects.count(), type(s.meetings["meeting"]).objects.count())
    response = client_for(None if role == "anonymous" else s.a.user(role)).post(path(), body, format="json")
    if role == "consultant" or (name == "absence" and role == "provider_user"):  # a provider records its own
        assert response.status_code == ok, response.content
        return
    if role == "other_consultant":
        # A consultant, but Aarhus is not theirs: the field that names Aarhus is refused.
        assert response.status_code == 400, response.content
        assert list(response.json()["error"]["fields"]) == [aarhus_field]
    elif role == "anonymous":
        assert response.status_code == 401
    else:
        assert response.status_code == 403, response.content
    assert counts == (SessionSeries.objects.count(), ProviderAbsence.objects.count(),
                      type(s.meetings["meeting"]).objects.count())


def test_absences_cannot_be_changed_or_removed_over_the_api(sessions_world, client_for):
    s = sessions_world
    client = client_for(s.a.w.consultant)
    for method in (client.put, client.patch, client.delete):
        assert method(reverse("api:provider-absence-detail", args=[s.a.absence.pk])).status_code == 405
