from django.apps import AppConfig


class SecurityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from security import checks, lockout  # noqa: F401  (system checks, signal receivers)
