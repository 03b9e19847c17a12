# The export's models move to the gateway app (policies/gateway, label "gateway"). Only the
# migration state changes here: the tables stay where they are, with their rows, and the gateway
# app's 0001_initial takes them over under the same names (db_table "policies_<model>").

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('policies', '0003_decision_undeclared_variables'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='exportcall',
                    name='run',
                ),
                migrations.RemoveField(
                    model_name='exportrun',
                    name='policy_version',
                ),
                migrations.RemoveField(
                    model_name='exportrun',
                    name='schema_version',
                ),
                migrations.RemoveField(
                    model_name='exportrun',
                    name='superseded_by',
                ),
                migrations.RemoveField(
                    model_name='exportrun',
                    name='target',
                ),
                migrations.RemoveField(
                    model_name='gatewaytarget',
                    name='active_run',
                ),
                migrations.RemoveField(
                    model_name='gatewaytarget',
                    name='schema',
                ),
                migrations.RemoveField(
                    model_name='targetsecret',
                    name='target',
                ),
                migrations.DeleteModel(
                    name='DriftReport',
                ),
                migrations.DeleteModel(
                    name='ExportCall',
                ),
                migrations.DeleteModel(
                    name='ExportRun',
                ),
                migrations.DeleteModel(
                    name='GatewayTarget',
                ),
                migrations.DeleteModel(
                    name='TargetSecret',
                ),
            ],
            database_operations=[],
        ),
    ]
