import json
import time

from django.core.management.base import CommandError

from gqlgov.cli import VersionOptionCommand, cli_actor, run_service
from policies.gateway.models import ExportRun
from policies.gateway.selectors import target_by_name
from policies.gateway.services import export_request
from policies.selectors import policy_version


class Command(VersionOptionCommand):
    help = "Export the schema's active (or a given approved) policy version to a gateway target now."

    def add_arguments(self, parser):
        parser.add_argument("target")
        parser.add_argument("--version", type=int, default=None, help="approved version (default: the active one)")
        parser.add_argument("--wait", action="store_true", help="wait for the export and print its outcome")
        parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait with --wait")

    def handle(self, *args, **opts):
        target = run_service(lambda: target_by_name(opts["target"]))
        version = run_service(lambda: policy_version(target.schema.name, opts["version"]))
        run = run_service(lambda: export_request(actor=cli_actor(), target=target, version=version))
        self.stdout.write(f"Queued export #{run.pk}: {target.schema.name} policy v{version.number} -> {target.name}.")
        if not opts["wait"]:
            return
        deadline = time.monotonic() + opts["timeout"]
        while True:
            run.refresh_from_db()
            if run.status not in (ExportRun.Status.QUEUED, ExportRun.Status.RUNNING):
                break
            if time.monotonic() > deadline:
                raise CommandError(f"export #{run.pk} is still {run.status} after {opts['timeout']:.0f}s")
            time.sleep(0.5)
        self.stdout.write(
            f"Export #{run.pk} {run.status}: {len(run.changes)} change(s), "
            f"{run.mutating_calls} write call(s), deployment {run.deployment_id or '-'}."
        )
        for change in run.changes:
            self.stdout.write(f"  {change['change']}")
        if run.status != ExportRun.Status.SUCCEEDED:
            raise CommandError(f"export #{run.pk} {run.status}: {run.error} {json.dumps(run.error_details)[:2000]}")
