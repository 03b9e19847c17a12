# The content types of the moved models follow them to the gateway app, keeping their ids: the
# permissions attached to them (view_exportrun, ...) and the admin log entries naming them stay
# valid, only their app label changes (policies.view_exportrun becomes gateway.view_exportrun).
# A fresh database has no content types yet at this point: Django creates them after migrating.

from django.db import migrations

MODELS = ("gatewaytarget", "exportrun", "exportcall", "driftreport", "targetsecret")


def _relabel(apps, schema_editor, old, new):
    content_types = apps.get_model("contenttypes", "ContentType").objects.db_manager(schema_editor.connection.alias)
    for model in MODELS:
        # Already there (a `migrate` stopped between the two gateway migrations created it):
        # the old one is left for `remove_stale_contenttypes`.
        if not content_types.filter(app_label=new, model=model).exists():
            content_types.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    _relabel(apps, schema_editor, "policies", "gateway")


def backwards(apps, schema_editor):
    _relabel(apps, schema_editor, "gateway", "policies")


class Migration(migrations.Migration):

    dependencies = [
        ('gateway', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
