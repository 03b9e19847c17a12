from django.core.management.base import BaseCommand, CommandError

from agents.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exits non-zero naming the first broken event."

    def handle(self, *args, **opts):
        report = verify_chain()
        if not report.ok:
            where = f"event {report.first_broken_id}" if report.first_broken_id else "the chain head"
            raise CommandError(f"Audit chain broken at {where}: {report.problem}.")
        self.stdout.write(f"Audit chain intact: {report.events} events.")
