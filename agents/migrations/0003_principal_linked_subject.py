from django.db import migrations, models
from django.db.models import F


def backfill(apps, schema_editor):
    # Principals linked before this field existed were linked by the login of their current subject.
    apps.get_model("agents", "Principal").objects.filter(user__isnull=False, oidc_subject__isnull=False).update(
        linked_subject=F("oidc_subject"))


class Migration(migrations.Migration):
    dependencies = [("agents", "0002_audit_chain_head")]

    operations = [
        migrations.AddField(
            model_name="principal",
            name="linked_subject",
            field=models.CharField(blank=True, default="", editable=False, max_length=255),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
