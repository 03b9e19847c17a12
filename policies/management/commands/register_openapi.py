from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gqlgov.cli import cli_actor, run_service
from policies.services import api_register


class Command(BaseCommand):
    help = ("Register a REST API version from an OpenAPI 3.0/3.1 document, JSON or YAML (an identical document"
            " returns the existing version).")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("file", type=Path)

    def handle(self, *args, **opts):
        try:
            text = opts["file"].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc}") from exc
        version, created = run_service(lambda: api_register(actor=cli_actor(), name=opts["name"], text=text))
        self.stdout.write(f"{'Registered' if created else 'Unchanged:'} {opts['name']} version {version.number}"
                          f" ({len(version.operations)} routes).")
        for label, key in (("Routes added", "routes_added"), ("Routes removed", "routes_removed")):
            if version.diff.get(key):
                self.stdout.write(f"{label}: {', '.join(version.diff[key])}")
        for change in version.diff.get("parameters_changed", []):
            parts = [f"{what} {', '.join(change[what])}" for what in ("added", "removed", "changed") if change[what]]
            self.stdout.write(f"Parameters of {change['operation']}: {'; '.join(parts)}")
