"""The export's modules import each other one way: tasks call services, never the reverse."""

import ast
from pathlib import Path

import policies.gateway

GATEWAY = Path(policies.gateway.__file__).parent
# The Celery entry points, and the app config that imports them so every process registers them.
ENTRY_POINTS = {"tasks.py", "apps.py"}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_export_module_imports_the_tasks_that_call_it():
    offenders = {
        str(path.relative_to(GATEWAY)): sorted(name for name in imported_modules(path) if name.endswith(".tasks"))
        for path in GATEWAY.rglob("*.py")
        if path.name not in ENTRY_POINTS and "migrations" not in path.parts
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_export_matches_rules_with_the_engine_s_function_only():
    # Rule matching has one definition (policies/engine/matching.py); a glob library here would
    # be a second interpreter of the policy language.
    globbing = {
        str(path.relative_to(GATEWAY))
        for path in GATEWAY.rglob("*.py")
        if imported_modules(path) & {"fnmatch", "glob", "fnmatch.fnmatchcase", "fnmatch.fnmatch"}
    }
    assert globbing == set()
