# The export's models, taken over from the policies app (policies 0004 removed them from its
# state). State only: the tables policies 0002_gateway_export created keep their names
# (db_table), their rows and their sequences, so an existing database needs no change at all,
# and a new one gets them from policies 0002 as before.

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('policies', '0004_gateway_models_move_to_gateway_app'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ExportRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('refused', 'Refused (schema lockstep)'), ('superseded', 'Superseded by a newer export')], db_index=True, default='queued', max_length=12)),
                        ('trigger', models.CharField(choices=[('approval', 'Approval'), ('manual', 'Manual'), ('drift', 'Drift auto-heal'), ('rollback', 'Rollback')], default='manual', max_length=10)),
                        ('requested_by', models.CharField(max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('plan', models.JSONField(blank=True, null=True)),
                        ('plan_hash', models.CharField(blank=True, max_length=64)),
                        ('signature', models.TextField(blank=True, help_text="Base64 KMS signature of the plan's SHA-256 digest.")),
                        ('signing_key_id', models.CharField(blank=True, max_length=300)),
                        ('signing_algorithm', models.CharField(blank=True, max_length=40)),
                        ('report', models.JSONField(blank=True, default=list)),
                        ('rest_api_id', models.CharField(blank=True, max_length=40)),
                        ('deployment_id', models.CharField(blank=True, max_length=40)),
                        ('changes', models.JSONField(blank=True, default=list)),
                        ('mutating_calls', models.PositiveIntegerField(default=0)),
                        ('error', models.TextField(blank=True)),
                        ('error_details', models.JSONField(blank=True, default=dict)),
                        ('policy_version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='export_runs', to='policies.policyversion')),
                        ('schema_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='policies.schemaversion')),
                        ('superseded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateway.exportrun')),
                    ],
                    options={
                        'db_table': 'policies_exportrun',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ExportCall',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('attempt', models.PositiveIntegerField(default=1)),
                        ('seq', models.PositiveIntegerField()),
                        ('service', models.CharField(max_length=40)),
                        ('action', models.CharField(max_length=80)),
                        ('resource', models.CharField(blank=True, max_length=500)),
                        ('outcome', models.CharField(max_length=10)),
                        ('mutating', models.BooleanField(default=False)),
                        ('retries', models.PositiveIntegerField(default=0)),
                        ('duration_ms', models.PositiveIntegerField(default=0)),
                        ('error', models.TextField(blank=True)),
                        ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='calls', to='gateway.exportrun')),
                    ],
                    options={
                        'db_table': 'policies_exportcall',
                        'ordering': ['run', 'attempt', 'seq'],
                    },
                ),
                migrations.CreateModel(
                    name='GatewayTarget',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.SlugField(max_length=100, unique=True)),
                        ('region', models.CharField(max_length=30)),
                        ('account_id', models.CharField(blank=True, max_length=12, validators=[django.core.validators.RegexValidator('^\\d{12}$', 'An AWS account id has 12 digits.')])),
                        ('rest_api_id', models.CharField(blank=True, help_text='Empty: gqlgov creates and owns a REST API for this target.', max_length=40)),
                        ('resolved_rest_api_id', models.CharField(blank=True, help_text='The API the last export used.', max_length=40)),
                        ('stage_name', models.CharField(max_length=128)),
                        ('lambda_arn', models.CharField(blank=True, help_text='Backend Lambda (AWS_PROXY).', max_length=300)),
                        ('http_url', models.URLField(blank=True, help_text='Backend URL (HTTP_PROXY).', max_length=500)),
                        ('auth_mode', models.CharField(choices=[('iam', 'AWS_IAM (SigV4)'), ('api_key', 'API keys'), ('both', 'AWS_IAM and API keys')], default='both', max_length=10)),
                        ('kms_key_id', models.CharField(blank=True, help_text='Symmetric key for stored secrets.', max_length=300)),
                        ('signing_key_id', models.CharField(blank=True, help_text='Asymmetric RSA key signing plans.', max_length=300)),
                        ('endpoint_url', models.CharField(blank=True, help_text='For moto or LocalStack only.', max_length=300)),
                        ('auto_heal', models.BooleanField(default=False, help_text='Re-apply the active version when drift is found.')),
                        ('require_full_coverage', models.BooleanField(default=False, help_text='Refuse exports while the schema has operations no rule governs.')),
                        ('enabled', models.BooleanField(default=True)),
                        ('lease_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('last_rotation_at', models.DateTimeField(blank=True, help_text='Last on-demand KMS key rotation.', null=True)),
                        ('last_drift_check_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.CharField(max_length=200)),
                        ('active_run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateway.exportrun')),
                        ('schema', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='gateway_targets', to='policies.schema')),
                    ],
                    options={
                        'db_table': 'policies_gatewaytarget',
                        'ordering': ['name'],
                    },
                ),
                migrations.AddField(
                    model_name='exportrun',
                    name='target',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='gateway.gatewaytarget'),
                ),
                migrations.CreateModel(
                    name='DriftReport',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('detected_at', models.DateTimeField(auto_now_add=True)),
                        ('differences', models.JSONField(default=list)),
                        ('policy_version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='policies.policyversion')),
                        ('heal_run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateway.exportrun')),
                        ('target', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='drift_reports', to='gateway.gatewaytarget')),
                    ],
                    options={
                        'db_table': 'policies_driftreport',
                        'ordering': ['-detected_at'],
                    },
                ),
                migrations.CreateModel(
                    name='TargetSecret',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('agent_name', models.CharField(max_length=100)),
                        ('api_key_id', models.CharField(blank=True, max_length=40)),
                        ('kms_key_id', models.CharField(max_length=300)),
                        ('encrypted_data_key', models.BinaryField()),
                        ('nonce', models.BinaryField()),
                        ('ciphertext', models.BinaryField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('encrypted_at', models.DateTimeField()),
                        ('target', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='secrets', to='gateway.gatewaytarget')),
                    ],
                    options={
                        'db_table': 'policies_targetsecret',
                        'ordering': ['target', 'agent_name'],
                        'constraints': [models.UniqueConstraint(fields=('target', 'agent_name'), name='target_secret_agent_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
