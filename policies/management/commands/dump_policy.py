from gqlgov.cli import VersionOptionCommand, run_service
from policies import engine
from policies.selectors import policy_version


class Command(VersionOptionCommand):
    help = "Print a policy version as YAML (the active one unless --version is given)."

    def add_arguments(self, parser):
        parser.add_argument("schema")
        parser.add_argument("--version", type=int)

    def handle(self, *args, **opts):
        version = run_service(lambda: policy_version(opts["schema"], opts["version"]))
        self.stdout.write(engine.dump_policy_yaml(version.document), ending="")
