from django.core.management.base import BaseCommand, CommandError

from gqlgov.cli import run_service
from policies.gateway.selectors import export_run
from policies.gateway.services import export_verify


class Command(BaseCommand):
    help = "Check an export run's stored plan against its KMS signature."

    def add_arguments(self, parser):
        parser.add_argument("run", type=int)

    def handle(self, *args, **opts):
        verification = run_service(lambda: export_verify(run=export_run(opts["run"])))
        if not verification.valid:
            raise CommandError(verification.message)
        self.stdout.write(verification.message)
