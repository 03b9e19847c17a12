"""The verifier package (this repository's gqlgov-verify/) as the zip an authorizer-mode export
deploys: built with its dependencies for Lambda's python3.11 on x86_64, zipped reproducibly
(the same files give the same bytes, hence the same CodeSha256: a rebuild is not drift).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from gqlgov.errors import ApiError
from policies.gateway.enforcement import JWKS_PATH, VerifierPackage
from policies.gateway.lambdas import code_sha256

# Lambda's runtime: wheels only (no compiler there), for its platform and Python.
PIP_TARGET_PLATFORM = (
    "--platform",
    "manylinux2014_x86_64",
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def build_verifier_zip(source: Path, output: Path, *, dependencies: bool = True) -> str:
    """Writes the zip of the package at `source` to `output` and returns its CodeSha256.
    Without `dependencies`: the package's own modules only (enough for moto, which never runs it)."""
    with tempfile.TemporaryDirectory() as staging:
        root = Path(staging)
        if dependencies:
            command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", staging]
            subprocess.run([*command, *PIP_TARGET_PLATFORM, str(source)], check=True)
        else:
            shutil.copytree(
                source / "src" / "gqlgov_verify",
                root / "gqlgov_verify",
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        data = _reproducible_zip(root)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(data)
    partial.replace(output)  # a reader never sees half a zip
    return code_sha256(data)


def _reproducible_zip(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            entry = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_EPOCH)
            entry.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def verifier_package(zip_file: str, public_url: str) -> VerifierPackage:
    """The zip at `zip_file` as the plan's input, with the issuer and JWKS URL the function is
    given; VERIFIER_PACKAGE_MISSING (409) says how to build it."""
    path = Path(zip_file)
    if not path.is_file():
        raise ApiError(
            "VERIFIER_PACKAGE_MISSING",
            f"Authorizer mode deploys the verifier package from {zip_file}, which does not exist: "
            "run `python manage.py build_verifier_package` (or `make verifier-zip`), or give the target "
            "an existing authorizer function (--authorizer-arn).",
            status=409,
        )
    return VerifierPackage(
        zip_file=str(path),
        code_sha256=code_sha256(path.read_bytes()),
        issuer=public_url,
        jwks_url=public_url.rstrip("/") + JWKS_PATH,
    )
