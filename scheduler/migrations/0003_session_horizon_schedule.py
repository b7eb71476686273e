"""Create the daily django-q2 schedule that keeps session series materialised a year ahead."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    from scheduler.tasks_sessions import ensure_schedules

    ensure_schedules(schedule_model=apps.get_model("django_q", "Schedule"))


def delete_schedule(apps, schema_editor):
    from scheduler.tasks_sessions import SCHEDULE_NAME

    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0002_sessions"),
        ("django_q", "0014_schedule_cluster"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
