from django.core.management.base import BaseCommand

from agents.selectors import token_by_prefix
from agents.services import token_rotate
from gqlgov.cli import cli_actor, run_service


class Command(BaseCommand):
    help = "Rotate an API token; the old one keeps working for --grace seconds. The new token is the last line."

    def add_arguments(self, parser):
        parser.add_argument("prefix")
        parser.add_argument("--grace", type=int, default=0, metavar="SECONDS")

    def handle(self, *args, **opts):
        new_token, plaintext = run_service(lambda: token_rotate(
            actor=cli_actor(), token=token_by_prefix(opts["prefix"]), grace_seconds=opts["grace"]
        ))
        self.stderr.write(f"Rotated {opts['prefix']} to {new_token.prefix}. Store it now; it is not shown again.")
        self.stdout.write(plaintext)
