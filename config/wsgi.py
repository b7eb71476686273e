import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.preflight import check_services, exit_on_misconfiguration  # noqa: E402

try:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    check_services()
except ImproperlyConfigured as exc:
    exit_on_misconfiguration(exc)
