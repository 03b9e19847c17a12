from gqlgov.cli import VersionOptionCommand, run_service
from policies.gateway.iac import FORMATS, render
from policies.gateway.selectors import target_by_name
from policies.gateway.services import plan_for
from policies.selectors import policy_version


class Command(VersionOptionCommand):
    help = "Render the export plan of a schema's policy as CloudFormation, Terraform, OpenAPI or JSON."

    def add_arguments(self, parser):
        parser.add_argument("schema")
        parser.add_argument("--target", required=True)
        parser.add_argument("--format", choices=sorted(FORMATS), default="json")
        parser.add_argument("--version", type=int, default=None, help="policy version (default: the active one)")
        parser.add_argument("-o", "--output", default="", help="file to write (default: standard output)")

    def handle(self, *args, **opts):
        target = run_service(lambda: target_by_name(opts["target"], schema=opts["schema"]))
        version = run_service(lambda: policy_version(opts["schema"], opts["version"]))
        text = render(plan_for(target, version), opts["format"])
        if opts["output"]:
            with open(opts["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stdout.write(f"Wrote {opts['format']} for {opts['schema']} v{version.number} to {opts['output']}.")
        else:
            self.stdout.write(text)
