"""``/cal/<token>.ics``: config/observability.py cuts the token from logged paths by this shape."""

from django.urls import path

from calendars import views

app_name = "calendars"

urlpatterns = [
    path("<str:token>.ics", views.feed, name="feed"),
]
