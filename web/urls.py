"""The pages' URLs, included at the site root by config/urls.py."""

from django.urls import path

from web import calendar_links, capacity, placement_page, portal, sessions, views, wellbeing_pages

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("workspace/", views.workspace, name="workspace"),
    path("portal/", portal.portal, name="portal"),
    path("portal/calendar/", calendar_links.portal_calendar, name="portal-calendar"),
    path("workspace/calendars/", calendar_links.staff_calendars, name="calendars"),
    path("workspace/matching/", views.matching_runs, name="matching"),
    path("workspace/matching/<int:run_id>/", views.matching_run, name="matching-run"),
    path("workspace/matching/<int:run_id>/progress/", views.matching_run_progress, name="matching-run-progress"),
]
urlpatterns += [
    path(
        f"workspace/matching/<int:run_id>/proposals/<int:proposal_id>/{action}/",
        views.decide_proposal, {"action": action}, name=f"proposal-{action}",
    )
    for action in ("accept", "reject", "override")
]
urlpatterns += wellbeing_pages.urlpatterns + placement_page.urlpatterns
urlpatterns += sessions.urlpatterns
urlpatterns += [
    path("workspace/capacity/", capacity.capacity, name="capacity"),
    path("workspace/capacity/export.csv", capacity.capacity_csv, name="capacity-csv"),
]
