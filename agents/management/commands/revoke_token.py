from django.core.management.base import BaseCommand

from agents.selectors import token_by_prefix
from agents.services import token_revoke
from gqlgov.cli import cli_actor, run_service


class Command(BaseCommand):
    help = "Revoke an API token by its prefix (gqg_<id>)."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, **opts):
        token = run_service(lambda: token_revoke(actor=cli_actor(), token=token_by_prefix(opts["prefix"])))
        self.stdout.write(f"Revoked {token.prefix}.")
