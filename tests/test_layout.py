"""The benchmark is developer tooling (tools/bench) beside the product, and the process helpers the
tests and the benchmark share live in tests/support: the product neither ships nor imports either."""

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("gqlgov", "agents", "policies")
VERIFIER = "gqlgov_verify"  # gqlgov-verify/src: a distribution of its own, shipped by the service too


def imported_modules(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every module an `import` or `from ... import` names in the Python files under `folder`."""
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                yield from ((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield path, node.module


def test_the_wheel_ships_gqlgov_agents_policies_and_the_verifier_without_the_benchmark():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [
        package
        for where in find["where"]
        for package in find_namespace_packages(
            where=str(ROOT / where), include=find["include"], exclude=find.get("exclude", ())
        )
    ]
    assert {name.split(".")[0] for name in packages} == {*PRODUCT, VERIFIER}
    assert [name for name in packages if "bench" in name.split(".")] == []


def test_the_product_packages_and_the_verifier_import_nothing_from_tools_or_tests():
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for folder in [*PRODUCT, f"gqlgov-verify/src/{VERIFIER}"]
        for path, module in imported_modules(ROOT / folder)
        if module.split(".")[0] in ("tools", "tests")
    ]
    assert found == []


def test_tests_start_their_servers_from_tests_support_not_from_the_benchmark():
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imported_modules(ROOT / "tests")
        if "bench" in module.split(".") and (ROOT / "tests" / "bench") not in path.parents
    ]
    assert found == []


def test_manage_py_bench_is_the_command_of_the_tools_bench_app():
    from django.core.management import get_commands

    assert get_commands()["bench"] == "tools.bench"


def test_without_tools_on_the_path_django_starts_and_has_no_bench_command(tmp_path):
    # The image's tree: the product packages and manage.py, no tools/ (the Dockerfile copies no more).
    # manage.py is copied: Python puts a script's resolved directory on sys.path, a link's target's.
    for name in PRODUCT:
        (tmp_path / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [sys.executable, "manage.py", "help", "--commands"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split()
    assert "migrate" in commands and "drain_decisions" in commands
    assert "bench" not in commands
