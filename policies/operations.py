"""The abstract model of what a check was made for, shared by decisions and approval requests
(a module of its own so that both model modules import it without importing each other)."""

from django.db import models


class CheckedOperation(models.Model):
    """Where a check was made and for which operation: what a decision and an approval request share."""

    schema_name = models.CharField(max_length=100)
    schema_version = models.PositiveIntegerField(null=True)
    policy_version = models.PositiveIntegerField(null=True)
    operation_name = models.CharField(max_length=200, blank=True)
    operation_type = models.CharField(max_length=20, blank=True)
    root_fields = models.JSONField(default=list)

    class Meta:
        abstract = True
