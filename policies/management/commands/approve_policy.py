from django.core.management.base import BaseCommand

from gqlgov.cli import run_service
from policies.selectors import policy_version
from policies.services import policy_approve, user_by_username


class Command(BaseCommand):
    help = "Approve a draft policy version; it becomes the active one. The approver must not be the author."

    def add_arguments(self, parser):
        parser.add_argument("schema")
        parser.add_argument("version", type=int)
        parser.add_argument("--approver", required=True, help="Django username with the approve permission")

    def handle(self, *args, **opts):
        approver = run_service(lambda: user_by_username(opts["approver"]))
        version = run_service(lambda: policy_approve(
            approver=approver, version=policy_version(opts["schema"], opts["version"])
        ))
        self.stdout.write(f"Approved {opts['schema']} policy version {version.number}; it is now active.")
