"""Create the every-minute django-q2 schedule that delivers due calendar outbox rows."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    from calendars.tasks import ensure_schedules

    ensure_schedules(schedule_model=apps.get_model("django_q", "Schedule"))


def delete_schedule(apps, schema_editor):
    from calendars.tasks import SCHEDULE_NAME

    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("calendars", "0001_initial"),
        ("django_q", "0014_schedule_cluster"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
