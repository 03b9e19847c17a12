from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agents.models import Principal
from agents.services import principal_create
from gqlgov.cli import cli_actor, run_service


def _attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise CommandError(f"--attr expects KEY=VALUE, got {text!r}")
    return key, value


class Command(BaseCommand):
    help = "Register an identity (AI agent, human or service account)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=Principal.Kind.values)
        parser.add_argument("--owner", help="username of the accountable human")
        parser.add_argument("--group", action="append", default=[], dest="groups")
        parser.add_argument("--attr", action="append", default=[], dest="attrs", metavar="KEY=VALUE")
        parser.add_argument("--iam-role-arn", default="")
        parser.add_argument("--oidc-subject")

    def handle(self, *args, **opts):
        owner = None
        if opts["owner"]:
            owner = get_user_model().objects.filter(username=opts["owner"]).first()
            if owner is None:
                raise CommandError(f"No user named {opts['owner']!r}.")
        attributes = dict(_attribute(text) for text in opts["attrs"])
        principal = run_service(lambda: principal_create(
            actor=cli_actor(),
            name=opts["name"],
            kind=opts["kind"],
            owner=owner,
            groups=opts["groups"],
            attributes=attributes,
            iam_role_arn=opts["iam_role_arn"],
            oidc_subject=opts["oidc_subject"],
        ))
        self.stdout.write(f"Created {principal.kind} {principal.name}.")
