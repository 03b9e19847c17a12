from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gqlgov.cli import cli_actor, run_service
from policies.models import Schema
from policies.selectors import schema_version_report
from policies.services import schema_register, schema_settings_update


class Command(BaseCommand):
    help = "Register a GraphQL schema version from an SDL file (identical SDL returns the existing version)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--schema-changes", choices=["review", "auto_additive"],
            help="set what this and later versions do: wait for review (the default), or take effect at once when"
            " purely additive (audited)",
        )

    def handle(self, *args, **opts):
        try:
            sdl = opts["file"].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc}") from exc
        # Set before registering, so that the option governs the version registered now.
        existing = Schema.objects.filter(name=opts["name"]).first()
        if opts["schema_changes"] and existing is not None:
            run_service(lambda: schema_settings_update(actor=cli_actor(), schema=existing,
                                                       schema_changes=opts["schema_changes"]))
        version, created = run_service(lambda: schema_register(actor=cli_actor(), name=opts["name"], sdl=sdl))
        if opts["schema_changes"] and existing is None:
            run_service(lambda: schema_settings_update(actor=cli_actor(), schema=version.schema,
                                                       schema_changes=opts["schema_changes"]))
        self.stdout.write(
            f"{'Registered' if created else 'Unchanged:'} {opts['name']} version {version.number}"
            f" ({len(version.operations)} operations{', built leniently' if version.lenient else ''})."
        )
        self.stdout.write(schema_version_report(version))
