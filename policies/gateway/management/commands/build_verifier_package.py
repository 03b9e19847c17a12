from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from policies.gateway.verifier_package import build_verifier_zip


class Command(BaseCommand):
    help = (
        "Build the gqlgov-verify Lambda zip (python3.11, manylinux2014_x86_64 wheels) that "
        "authorizer-mode exports deploy as gqlgov-decision-<target>."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", default="", help="zip to write (default: GQLGOV_AUTHORIZER_ZIP)")
        parser.add_argument("--source", default="", help="the package folder (default: this checkout's gqlgov-verify/)")
        parser.add_argument(
            "--without-dependencies",
            action="store_true",
            help="the package's modules only, no pip download (for local stand-ins such as moto)",
        )

    def handle(self, *args, **opts):
        source = Path(opts["source"] or Path(settings.BASE_DIR) / "gqlgov-verify")
        output = Path(opts["output"] or settings.GQLGOV_AUTHORIZER_ZIP)
        if not (source / "pyproject.toml").is_file():
            raise CommandError(f"{source} is not the gqlgov-verify package folder (no pyproject.toml).")
        try:
            sha = build_verifier_zip(source, output, dependencies=not opts["without_dependencies"])
        except Exception as exc:  # pip's own message is on stderr already
            raise CommandError(f"building the verifier package failed: {exc}") from exc
        self.stdout.write(f"Wrote {output} (CodeSha256 {sha}).")
