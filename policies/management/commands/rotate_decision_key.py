from django.core.management.base import BaseCommand

from gqlgov.cli import cli_actor, run_service
from policies.signing.keys import rotate_decision_key


class Command(BaseCommand):
    help = (
        "Make a new decision signing key active (with GQLGOV_DECISION_SIGNING_KMS_KEY_ID: make that KMS key "
        "active). The previous key stops signing and stays in the JWK Set until every token it signed has expired."
    )

    def handle(self, *args, **opts):
        rotation = run_service(lambda: rotate_decision_key(actor=cli_actor()))
        key = rotation.key
        signer = f"KMS key {key.kms_key_id}" if key.kms_key_id else "gqlgov"
        self.stdout.write(f"Decision signing key {key.kid} is active (signed by {signer}).")
        if rotation.published_until is not None:
            until = rotation.published_until.isoformat(timespec="seconds")
            for kid in rotation.retired:
                self.stdout.write(f"Key {kid} is retired; the JWK Set publishes it until {until}.")
