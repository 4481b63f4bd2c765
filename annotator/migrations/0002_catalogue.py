from django.db import migrations

from annotator.catalogue import catalogue_sync


def load_catalogue(apps, schema_editor):
    catalogue_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]
