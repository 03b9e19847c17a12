import argparse

from django.core.management.base import BaseCommand

from gqlgov.cli import cli_actor, run_service
from policies.selectors import schema_by_name
from policies.services import schema_settings_update


class Command(BaseCommand):
    help = "Set a schema's lockstep options: what a new schema version does, and whether approval needs a replay."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--schema-changes", choices=["review", "auto_additive"],
                            help="review (the default): every new version waits for a reviewed policy version;"
                            " auto_additive: purely additive versions take effect at once (audited)")
        parser.add_argument("--require-replay", action=argparse.BooleanOptionalAction, default=None,
                            help="approve a policy version only after replay_policy ran on its current text")

    def handle(self, *args, **opts):
        schema = run_service(lambda: schema_by_name(opts["name"]))
        schema = run_service(lambda: schema_settings_update(
            actor=cli_actor(), schema=schema, schema_changes=opts["schema_changes"],
            require_replay=opts["require_replay"],
        ))
        self.stdout.write(f"{schema.name}: schema_changes={schema.schema_changes}"
                          f" require_replay={'yes' if schema.require_replay else 'no'}")
