"""The REST API under /api/: v1 resources, the OpenAPI schema and its interactive docs."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import views, views_calendars, views_matching, views_sessions
from api import views_wellbeing as wellbeing

app_name = "api"



class Router(DefaultRouter):
    include_format_suffixes = False  # one URL per resource, no ".json" twins


router = Router()
router.register("municipalities", views.MunicipalityViewSet, basename="municipality")
router.register("teams", views.TeamViewSet, basename="team")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("households", views.HouseholdViewSet, basename="household")
router.register("children", views.ChildViewSet, basename="child")
router.register("placements", views.PlacementViewSet, basename="placement")
router.register("providers", views.ProviderViewSet, basename="provider")
router.register("availability", views.WeeklyAvailabilityViewSet, basename="availability")
# Creating an absence goes through the scheduler, which flags the sessions it hits.
router.register("provider-absences", views_sessions.ProviderAbsenceViewSet, basename="provider-absence")
router.register("services", views.ServiceViewSet, basename="service")
router.register("competences", views.CompetenceViewSet, basename="competence")
router.register("support-needs", views.SupportNeedViewSet, basename="support-need")
router.register("audit-log", views.AuditEntryViewSet, basename="audit-entry")
router.register("matching-runs", views_matching.MatchingRunViewSet, basename="matching-run")
router.register("proposals", views_matching.ProposalViewSet, basename="proposal")
router.register("calendar-feeds", views_calendars.FeedViewSet, basename="calendar-feed")
router.register("calendar-deliveries", views_calendars.DeliveryViewSet, basename="calendar-delivery")
router.register("caldav-connections", views_calendars.CalDavConnectionViewSet, basename="caldav-connection")
router.register("session-series", views_sessions.SessionSeriesViewSet, basename="session-series")
router.register("session-occurrences", views_sessions.SessionOccurrenceViewSet, basename="session-occurrence")
router.register("session-changes", views_sessions.SeriesChangeViewSet, basename="session-change")
router.register("meetings", views_sessions.MeetingViewSet, basename="meeting")
# Well-being signals, goals, scores, alerts and milestones (api/views_wellbeing.py).
router.register("checkins", wellbeing.CheckInViewSet, basename="checkin")
router.register("sdq-scores", wellbeing.SdqScoreViewSet, basename="sdq-score")
router.register("school-absences", wellbeing.SchoolAbsenceViewSet, basename="school-absence")
router.register("incidents", wellbeing.IncidentViewSet, basename="incident")
router.register("child-views", wellbeing.ChildViewViewSet, basename="child-view")
router.register("goals", wellbeing.GoalViewSet, basename="goal")
router.register("goal-measurements", wellbeing.GoalMeasurementViewSet, basename="goal-measurement")
router.register("risk-scores", wellbeing.RiskScoreViewSet, basename="risk-score")
router.register("score-assessments", wellbeing.ScoreAssessmentViewSet, basename="score-assessment")
router.register("alerts", wellbeing.AlertViewSet, basename="alert")
router.register("milestones", wellbeing.MilestoneViewSet, basename="milestone")

urlpatterns = [
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/auth/token/", views.TokenView.as_view(), name="token"),
    path("v1/wellbeing/overview/", wellbeing.WellbeingOverviewView.as_view(), name="wellbeing-overview"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Last: anything else ending in "/" is an unknown resource. (Paths without the slash still get
    # Django's APPEND_SLASH redirect first.)
    re_path(r"^[\s\S]*/$", views.not_found),  # [\s\S]: "." would let a path with a newline fall through to HTML
]
