from django.core.management.base import BaseCommand

from agents.selectors import principal_by_name
from agents.services import token_issue
from gqlgov.cli import cli_actor, run_service


class Command(BaseCommand):
    help = "Issue an API token; the token is printed once, as the last line of stdout."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--expires-in", type=int, metavar="DAYS")
        parser.add_argument("--label", default="")

    def handle(self, *args, **opts):
        token, plaintext = run_service(
            lambda: token_issue(
                actor=cli_actor(),
                principal=principal_by_name(opts["name"]),
                expires_in_days=opts["expires_in"],
                label=opts["label"],
            )
        )
        expiry = token.expires_at.isoformat() if token.expires_at else "never"
        self.stderr.write(
            f"Token {token.prefix} for {opts['name']} (expires: {expiry}). Store it now; it is not shown again."
        )
        self.stdout.write(plaintext)
