from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gqlgov.cli import cli_actor, run_service
from policies.selectors import schema_version_report
from policies.services import schema_register


class Command(BaseCommand):
    help = "Register a GraphQL schema version from an SDL file (identical SDL returns the existing version)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("file", type=Path)

    def handle(self, *args, **opts):
        try:
            sdl = opts["file"].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc}") from exc
        version, created = run_service(lambda: schema_register(actor=cli_actor(), name=opts["name"], sdl=sdl))
        self.stdout.write(
            f"{'Registered' if created else 'Unchanged:'} {opts['name']} version {version.number}"
            f" ({len(version.operations)} operations{', built leniently' if version.lenient else ''})."
        )
        self.stdout.write(schema_version_report(version))
