"""Drift: what differs between a target's live gateway and its active version's plan, found by
a dry run of the applier; reported (audited) and, with auto-heal on, re-exported.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from agents.audit import record_event
from gqlgov import metrics
from policies.gateway.applier import Applier
from policies.gateway.models import DriftReport, ExportRun, GatewayTarget
from policies.gateway.services.runs import export_request
from policies.gateway.services.targets import clients_for, lambda_client_for, plan_for
from policies.models import Schema

logger = logging.getLogger("gqlgov.export")


def drift_check(*, target: GatewayTarget) -> DriftReport | None:
    """Compares the target's live gateway with its active version's plan; records a report when
    they differ and, with auto-heal on, requests an export of the active version."""
    version = Schema.objects.get(pk=target.schema_id).active_policy
    if version is None or target.active_run_id is not None:
        return None
    plan = plan_for(target, version)
    apigateway, _ = clients_for(target)
    differences = Applier(apigateway, plan, dry_run=True, lambda_client=lambda_client_for(target)).run().changes
    # Stamped only once the gateway was really compared: the overview says "in sync" on this basis.
    GatewayTarget.objects.filter(pk=target.pk).update(last_drift_check_at=timezone.now())
    if not differences:
        return None
    with transaction.atomic():
        report = DriftReport.objects.create(target=target, policy_version=version, differences=differences)
        record_event(
            actor="system",
            action="export.drift_detected",
            target=report,
            details={
                "target": target.name,
                "version": version.number,
                "differences": differences[:50],
                "auto_heal": target.auto_heal,
            },
        )
        if target.auto_heal:
            report.heal_run = export_request(
                actor="system", target=target, version=version, trigger=ExportRun.Trigger.DRIFT
            )
            report.save(update_fields=["heal_run"])
    metrics.EXPORT_DRIFT.labels(target.name).inc()
    return report


def drift_check_all() -> list[DriftReport]:
    """Drift check of every enabled target; one failing target does not stop the others."""
    reports = []
    for target in GatewayTarget.objects.filter(enabled=True).select_related("schema"):
        try:
            report = drift_check(target=target)
        except Exception:
            logger.exception("drift check of %s failed", target.name)
            continue
        if report is not None:
            reports.append(report)
    return reports
