"""gqlgov-verify is a distribution of its own: it installs alone with pip and loads no Django or gqlgov
(tests/test_architecture.py checks its imports; no Django in this module either)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gqlgov-verify"

# Run in the fresh environment: the whole public surface imports, verifies a token, and pulls no Django.
SMOKE = textwrap.dedent(
    """
    import importlib.util, json, sys, time
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    import gqlgov_verify, gqlgov_verify.asgi, gqlgov_verify.authorizer, gqlgov_verify.wsgi
    from gqlgov_verify import document_sha256, variables_sha256, verify_decision

    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": "k1"}
    now = int(time.time())
    claims = {"iss": "https://gqlgov.example.com", "sub": "bot", "iat": now, "exp": now + 60, "jti": "j",
              "decision_id": "d", "schema": "shop", "policy_version": 1,
              "operation": {"name": None, "type": "query", "root_fields": ["orders"]},
              "document_sha256": document_sha256("{ orders { id } }"), "variables_sha256": variables_sha256(None)}
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
    assert verify_decision(token, query="{ orders { id } }", variables=None, jwks={"keys": [jwk]})["sub"] == "bot"
    assert importlib.util.find_spec("django") is None, "Django is installed"
    assert not [name for name in sys.modules if name.split(".")[0] in ("django", "gqlgov", "boto3", "redis")]
    print("ok", gqlgov_verify.__file__)
    """
)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
    return {name.split(".")[0] for name in names}


def test_the_verifiers_tests_import_no_django():
    found = {path.name: sorted(imports_of(path) & {"django", "ninja"}) for path in Path(__file__).parent.glob("*.py")}

    assert {name: bad for name, bad in found.items() if bad} == {}


def test_importing_the_package_loads_no_django_boto3_or_redis():
    code = (
        "import sys, gqlgov_verify, gqlgov_verify.asgi, gqlgov_verify.authorizer, gqlgov_verify.wsgi; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'gqlgov', 'boto3', 'redis'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(PACKAGE / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_pip_installs_the_folder_alone_in_a_fresh_venv_without_django(tmp_path):
    # A copy: pip builds in the source tree, and the worktree must not collect build/ and egg-info.
    source = shutil.copytree(PACKAGE, tmp_path / "gqlgov-verify", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    venv.create(tmp_path / "venv", with_pip=True, system_site_packages=False)
    python = tmp_path / "venv" / "bin" / "python"

    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, install.stderr

    smoke = subprocess.run([python, "-c", SMOKE], cwd=tmp_path, env={}, capture_output=True, text=True, timeout=60)
    assert smoke.returncode == 0, smoke.stderr
    assert smoke.stdout.startswith("ok ") and str(tmp_path / "venv") in smoke.stdout
