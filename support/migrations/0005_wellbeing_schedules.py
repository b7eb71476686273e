"""The well-being schedules (nightly scoring and milestones; alert-email retries) as django-q2 rows.

Calls support.wellbeing.tasks.ensure_schedules, which is idempotent (keyed by name).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from support.wellbeing.tasks import ensure_schedules

    ensure_schedules(apps.get_model("django_q", "Schedule"))


def backwards(apps, schema_editor):
    from support.wellbeing.tasks import EMAILS_NAME, NIGHTLY_NAME

    apps.get_model("django_q", "Schedule").objects.filter(name__in=[NIGHTLY_NAME, EMAILS_NAME]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0004_wellbeing"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
