from django.core.management.base import BaseCommand

from agents.selectors import principal_by_name
from gqlgov.cli import cli_actor, run_service


class StatusCommand(BaseCommand):
    """Base for suspend_agent/resume_agent: `change` is the service, `done` the past-tense verb."""

    change = None
    done = ""

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, **opts):
        change = type(self).change
        run_service(lambda: change(actor=cli_actor(), principal=principal_by_name(opts["name"])))
        self.stdout.write(f"{self.done} {opts['name']}.")
