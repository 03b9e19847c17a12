from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gqlgov.cli import run_service
from policies import engine
from policies.selectors import policy_warnings
from policies.services import policy_load, user_by_username


class Command(BaseCommand):
    help = "Load a policy file as a new draft version (nothing is saved if it is invalid)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--author", required=True, help="Django username of the author")

    def handle(self, *args, **opts):
        try:
            text = opts["file"].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc}") from exc
        try:
            document = engine.parse_policy_yaml(text)
        except engine.PolicyValidationError as exc:
            raise CommandError(_errors_text(exc.errors)) from exc
        author = run_service(lambda: user_by_username(opts["author"]))
        version = run_service(lambda: policy_load(author=author, document=document))
        self.stdout.write(f"Loaded {version.schema.name} policy version {version.number} as a draft.")
        for warning in policy_warnings(version.schema, version.document):
            self.stdout.write(f"warning: {warning}")


def _errors_text(errors) -> str:
    return "The policy is invalid:\n" + "\n".join(
        f"  rule {e.get('rule') or '-'}, {e.get('field') or '-'}: {e.get('message')}" for e in errors
    )
