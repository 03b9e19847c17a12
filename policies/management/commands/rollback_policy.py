from django.core.management.base import BaseCommand

from gqlgov.cli import cli_actor, run_service
from policies.selectors import schema_by_name
from policies.services import policy_rollback


class Command(BaseCommand):
    help = "Re-activate an earlier approved policy version and export it."

    def add_arguments(self, parser):
        parser.add_argument("schema")
        parser.add_argument("version", type=int)

    def handle(self, *args, **opts):
        version = run_service(lambda: policy_rollback(
            actor=cli_actor(), schema=schema_by_name(opts["schema"]), number=opts["version"]
        ))
        self.stdout.write(f"{opts['schema']} policy version {version.number} is active again.")
