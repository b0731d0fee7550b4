from django.db import migrations


def create_roles(apps, schema_editor):
    from leadcrm.roles import ensure_default_roles

    ensure_default_roles(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("leadcrm", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
