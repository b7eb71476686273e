from django.db import migrations


def forwards(apps, schema_editor):
    from support.reference_data import install

    install(apps.get_model("support", "Service"), apps.get_model("support", "Competence"))


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
