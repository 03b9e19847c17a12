"""Gateway targets say how the pre-check's decisions bind: `enforcement` (backend | authorizer |
none) and, for authorizer mode, the authorizer function or the role of the one gqlgov deploys.

Targets that exist when this runs were advisory (the gateway alone limited callers), so they are
added as `none` and keep doing what they did until a person chooses a mode; targets created
afterwards default to `backend` (the model's default, set by the second operation).
"""

import re

import django.core.validators
from django.db import migrations, models

ENFORCEMENT_CHOICES = [
    ("backend", "Backend verifies the decision token"),
    ("authorizer", "API Gateway authorizer verifies the decision token"),
    ("none", "Advisory (the pre-check is not enforced)"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0004_stage_logging"),
    ]

    operations = [
        migrations.AddField(
            model_name="gatewaytarget",
            name="enforcement",
            field=models.CharField(choices=ENFORCEMENT_CHOICES, default="none", max_length=12),
        ),
        migrations.AlterField(
            model_name="gatewaytarget",
            name="enforcement",
            field=models.CharField(choices=ENFORCEMENT_CHOICES, default="backend", max_length=12),
        ),
        migrations.AddField(
            model_name="gatewaytarget",
            name="authorizer_arn",
            field=models.CharField(
                blank=True,
                help_text="Authorizer mode: an existing authorizer function. Empty: the export deploys one.",
                max_length=300,
                validators=[
                    django.core.validators.RegexValidator(
                        re.compile(
                            "^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"
                        ),
                        "Give a Lambda function ARN.",
                    )
                ],
            ),
        ),
        migrations.AddField(
            model_name="gatewaytarget",
            name="authorizer_role_arn",
            field=models.CharField(
                blank=True,
                help_text="Authorizer mode: the execution role of the authorizer function the export deploys.",
                max_length=300,
                validators=[
                    django.core.validators.RegexValidator(
                        re.compile("^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]{1,512}$"), "Give an IAM role ARN."
                    )
                ],
            ),
        ),
    ]
