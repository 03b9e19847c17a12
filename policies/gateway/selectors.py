"""Reads of the export shared by the API, the commands and the admin."""

from gqlgov.errors import NotFound
from policies.gateway.models import ExportRun, GatewayTarget


def target_by_name(name: str, *, schema: str | None = None) -> GatewayTarget:
    targets = GatewayTarget.objects.select_related("schema").filter(name=name)
    if schema is not None:
        targets = targets.filter(schema__name=schema)
    target = targets.first()
    if target is None:
        raise NotFound(f"gateway target '{name}'" + (f" of schema '{schema}'" if schema else ""))
    return target


def export_run(run_id: int) -> ExportRun:
    run = ExportRun.objects.select_related("target", "policy_version__schema").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"export run {run_id}")
    return run
