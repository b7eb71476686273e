"""Plejenet settings: one file, read from the environment (12-factor).

With no configuration at all the service runs on an SQLite file in the project and django-q2's
ORM broker, so a newcomer needs nothing installed. DATABASE_URL (PostgreSQL) and REDIS_URL
switch to the real deployment. Every variable is listed in .env.example.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import sys
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
import dj_email_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules or env_bool("PLEJENET_TESTING", False)

# The embedded default (no DATABASE_URL) is a developer's machine, so DEBUG defaults on there;
# a deployment sets DATABASE_URL and gets DEBUG off unless it asks otherwise.
DEBUG = env_bool("DEBUG", not env_str("DATABASE_URL"))

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured("SECRET_KEY: required when DEBUG is off (set DEBUG=1 for development)")
    # A development key kept in a git-ignored file: the web process and the django-q2 worker
    # must share it (tasks are signed with it), and sessions survive restarts.
    _key_file = BASE_DIR / ".dev-secret-key"
    if not _key_file.exists():
        _key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if (DEBUG or TESTING) else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI from our own static files: no CDN sees who reads the docs
    "django_q",
    "support",
    "scheduler",
    "calendars",
    "api",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "security",
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "security.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "security.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into its 429 answer
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    if urlparse(DATABASE_URL).scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL: unsupported scheme {urlparse(DATABASE_URL).scheme!r} (use postgres://... or sqlite:///...)"
        )
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from None
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["CONN_HEALTH_CHECKS"] = True
        _db.setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the django-q2 worker share the file.
    # IMMEDIATE takes the write lock when a transaction begins: a DEFERRED one that reads and then
    # writes while the worker writes fails at once with "database is locked" (the busy timeout
    # cannot help a lock upgrade); seen in the browser tests accepting a proposal during a run.
    _db.setdefault("OPTIONS", {}).update({
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    })
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"

# --- Queue and cache --------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and urlparse(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured(f"REDIS_URL: expected redis://host:port/db, got scheme {urlparse(REDIS_URL).scheme!r}")
if REDIS_URL and TESTING and env_str("PYTEST_XDIST_WORKER"):
    # `make test` runs the suite in parallel processes (pytest-xdist), each with its own test
    # database; each also gets its own Redis database, so one's cache clears and queues never
    # reach another's (gw0 keeps the configured one, gw1 the one below it, and so on).
    _redis = urlparse(REDIS_URL)
    if _redis.scheme in {"redis", "rediss"}:
        _worker = int(env_str("PYTEST_XDIST_WORKER").removeprefix("gw") or 0)
        _base = int(_redis.path.strip("/") or 0)
        REDIS_URL = _redis._replace(path=f"/{(_base - _worker) % 16}").geturl()

Q_CLUSTER = {
    "name": "plejenet",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": env_int("Q_TIMEOUT", 600, minimum=10),
    "retry": env_int("Q_RETRY", 720, minimum=20),
    "max_attempts": 3,
    "save_limit": 1000,
    "catch_up": False,
    "label": "Tasks",
    "sync": TESTING and not env_bool("Q_ASYNC_IN_TESTS", False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",  # a miss, not a 500, while Redis is down
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "plejenet",
            "OPTIONS": {"socket_connect_timeout": 3, "socket_timeout": 3},
        }
    }
else:
    Q_CLUSTER["orm"] = "default"
    # Without Redis, a file cache is shared by the web process and the worker, so throttles,
    # rate limits and the worker's heartbeat (shown by /healthz) are seen by both.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        if TESTING
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": BASE_DIR / ".cache"}
    }

# --- Email ------------------------------------------------------------------------------------
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    try:
        _email = dj_email_url.parse(EMAIL_URL)
    except Exception as exc:  # dj-email-url raises plain exceptions for bad schemes
        raise ImproperlyConfigured(f"EMAIL_URL: {exc}") from None
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"]
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
    EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
else:
    EMAIL_BACKEND = (
        "django.core.mail.backends.locmem.EmailBackend"
        if TESTING
        else "django.core.mail.backends.console.EmailBackend"
    )
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Plejenet <noreply@plejenet.invalid>")

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
# django-axes checks every authenticate() call (sign-in page, admin, API token) before ModelBackend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# A working day; staff sign in (with a code) again the next morning.
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 10, minimum=1) * 3600

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "da"
LANGUAGES = [("da", _("Danish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Copenhagen"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# In development WhiteNoise serves straight from the finders; deployments run collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if (DEBUG or TESTING)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production defaults; DEBUG relaxes them for local http) ----------------------------
SECURE_HTTPS = env_bool("SECURE_HTTPS", not DEBUG and not TESTING)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if SECURE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Sign-in protection (docs/security.md) --------------------------------------------------------------
# Lockout per account: N failures from anywhere pause that username for the cool-off. Not per IP
# address: a municipality's staff share one office IP, and one person's typos must not lock the office.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for "ip_address" in the parameters; per-IP lockout would lock a whole municipal office
# behind one NAT address after a few typos. Deliberate; see docs/security.md ("Login lockout").
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the right password during a lockout does not extend it
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "security.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "security.lockout.client_ip"
AXES_CLIENT_STR_CALLABLE = "security.lockout.client_str"  # log lines: a hash, not the username or IP
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password", "otp_token"]
AXES_VERBOSE = False
# Two-factor sign-in (django-otp, TOTP): enforced for staff roles by security.middleware.TwoFactorMiddleware.
OTP_TOTP_ISSUER = "Plejenet"
# Content-Security-Policy (django-csp). Relaxations per path live in security/middleware.py (only /api/docs/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Error reports hide more than Django's default: Authorization, *_URL with credentials, tokens, codes.
DEFAULT_EXCEPTION_REPORTER_FILTER = "security.reporting.SecretsExceptionReporterFilter"
# Secrets at rest (calendars.crypto): comma-separated Fernet keys, newest first. Required when DEBUG is off.
# GDPR retention: closed placements are anonymised this many years after they ended.
RETENTION_YEARS = env_int("RETENTION_YEARS", 5, minimum=1)


# --- Scheduling ------------------------------------------------------------------------------------------
SESSION_HORIZON_MONTHS = env_int("SESSION_HORIZON_MONTHS", 12, minimum=1)
SESSION_TRAVEL_SPEED_KMH = env_int("SESSION_TRAVEL_SPEED_KMH", 50, minimum=5)

# --- Domain keys ---------------------------------------------------------------------------------
# Key for the keyed hash of CPR numbers: a CPR number is never stored in clear, only as
# HMAC-SHA256 under this key, so records can be matched without the number being readable.
CPR_HASH_KEY = env_str("CPR_HASH_KEY") or SECRET_KEY

# --- Calendars (feeds, invitations, CalDAV push: docs/calendars.md) ----------------------------------
# Fernet keys for secrets stored encrypted (CalDAV app passwords): comma-separated; the first
# encrypts, all decrypt. Rotate: put a new key first, deploy, `manage.py reencrypt_secrets`, drop the old.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS: required when DEBUG is off (comma-separated keys from Fernet.generate_key())"
        )
    # Development and tests: one key derived from SECRET_KEY (the same as calendars.crypto.dev_key).
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"plejenet-field-encryption:" + SECRET_KEY.encode()).digest()).decode()
    ]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: each key must be 32 url-safe base64 bytes") from None
CALENDAR_FEED_MISS_LIMIT = env_int("CALENDAR_FEED_MISS_LIMIT", 20, minimum=1)
CALENDAR_FEED_MISS_WINDOW = env_int("CALENDAR_FEED_MISS_WINDOW", 900, minimum=10)  # seconds
CALENDAR_FEED_REFRESH_MINUTES = env_int("CALENDAR_FEED_REFRESH_MINUTES", 60, minimum=5)
CALENDAR_OUTBOX_MAX_ATTEMPTS = env_int("CALENDAR_OUTBOX_MAX_ATTEMPTS", 8, minimum=1)
CALENDAR_ORGANIZER_EMAIL = env_str("CALENDAR_ORGANIZER_EMAIL")  # default: DEFAULT_FROM_EMAIL's address


# --- API ------------------------------------------------------------------------------------------
def _throttle_rate(name: str, default: str) -> str:
    rate = env_str(name, default)
    number, _, period = rate.partition("/")
    if not number.isdigit() or period not in {"second", "minute", "hour", "day"}:
        raise ImproperlyConfigured(f"{name}: expected a rate such as 600/minute, got {rate!r}")
    return rate


REST_FRAMEWORK = {
    # Token first: an anonymous request then answers 401 with WWW-Authenticate, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _throttle_rate("API_THROTTLE_ANON", "60/minute"),
        "user": _throttle_rate("API_THROTTLE_USER", "600/minute"),
    },
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Plejenet API",
    "DESCRIPTION": "Support for Danish municipal foster care. Every list is scoped to the caller's memberships.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",  # tags and operation ids by resource, not "v1"
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `kind`, `status` or `reason` with different choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "HouseholdKindEnum": "support.models.HouseholdKind",
        "ProviderKindEnum": "support.models.ProviderKind",
        "PlacementStatusEnum": "support.models.PlacementStatus",
        "NeedStatusEnum": "support.models.NeedStatus",
        "BreakdownReasonEnum": "support.models.BreakdownReason",
        "AbsenceReasonEnum": "support.models.ProviderAbsence.Reason",
        "RoleEnum": "support.roles.Role",
        "MatchingRunStatusEnum": "scheduler.models.RunStatus",
        "ProposalStatusEnum": "scheduler.models.ProposalStatus",
        "FeedKindEnum": "calendars.models.FeedKind",
        "FeedLanguageEnum": [("da", "Dansk"), ("en", "English")],
        "DeliveryStatusEnum": "calendars.models.OutboxStatus",
        "CalDavStatusEnum": "calendars.models.ConnectionStatus",
        "SeriesKindEnum": "scheduler.models.SeriesKind",
        "SeriesStatusEnum": "scheduler.models.SeriesStatus",
        "OccurrenceStatusEnum": "scheduler.models.OccurrenceStatus",
        "SeriesChangeActionEnum": "scheduler.models.SeriesChange.Action",
        "MeetingKindEnum": "scheduler.models.MeetingKind",
        "MeetingStatusEnum": "scheduler.models.MeetingStatus",
        "ParticipantRoleEnum": "scheduler.models.ParticipantRole",
        # Well-being (api/serializers_wellbeing.py)
        "IncidentKindEnum": "support.models.IncidentKind",
        "AlertKindEnum": "support.models.AlertKind",
        "LevelEnum": "support.models.Level",
        "ReasonLevelEnum": "api.serializers_wellbeing.REASON_LEVELS",
        "StrainLevelEnum": "api.serializers_wellbeing.STRAIN_LEVELS",
        "GoalDirectionEnum": "support.models.GoalDirection",
        "TrendDirectionEnum": "api.serializers_wellbeing.TREND_DIRECTIONS",
        "SdqInformantEnum": "support.models.SdqInformant",
        "SdqBandEnum": "support.wellbeing.sdq.BAND_CODES",
    },
}

# --- Logging --------------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}")
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT: expected json or plain, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "security.redaction.RedactingJsonFormatter"},
        "plain": {
            "()": "security.redaction.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Our access log replaces runserver's and gunicorn's, which would log feed tokens in paths.
        "django.server": {"level": "WARNING"},
        "plejenet.access": {"level": "INFO" if not TESTING else "WARNING"},
    },
}
