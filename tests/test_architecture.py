"""The layout's rules, checked on the source: no import cycle, a pure engine, agents independent
of policies, a verifier package free of Django and of the service, and one constructor per reason code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Each package and the folder its import path starts from (gqlgov-verify/ is a distribution of its own).
PACKAGES = {"gqlgov": ROOT, "agents": ROOT, "policies": ROOT, "gqlgov_verify": ROOT / "gqlgov-verify" / "src"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package, base in PACKAGES.items():
        for path in (base / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(base).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = _modules()


def _imports(path: Path, module: str) -> Iterator[str]:
    """Every module of ours `path` imports, at module level or inside a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


GRAPH = {module: set(_imports(path, module)) for module, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def _is_package_link(component: list[str]) -> bool:
    """A package's __init__ re-exporting its own modules is not a cycle of concerns."""
    return all(member.startswith(component[0] + ".") or member == component[0] for member in component)


def test_no_module_imports_itself_back_through_others() -> None:
    cycles = [component for component in _cycles() if not _is_package_link(component)]

    assert cycles == []


def _foreign_imports(prefix: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """The absolute imports of `forbidden` top-level packages by each module under `prefix`."""
    offending = {}
    for module, path in MODULES.items():
        if not (module == prefix or module.startswith(prefix + ".")):
            continue
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
        bad = {name for name in imported if name.split(".")[0] in forbidden}
        if bad:
            offending[module] = sorted(bad)
    return offending


def test_the_engine_imports_no_django_and_no_other_part_of_gqlgov() -> None:
    assert _foreign_imports("policies.engine", ("django", "ninja", "gqlgov", "agents", "policies")) == {}


def test_the_verifier_imports_no_django_and_nothing_of_the_service() -> None:
    # Backends and Lambda functions install it alone (`pip install ./gqlgov-verify`): no Django there.
    # (boto3 and redis are optional extras, imported only by the stores that need them.)
    forbidden = ("django", "ninja", "gqlgov", "agents", "policies", "tests", "tools")
    assert _foreign_imports("gqlgov_verify", forbidden) == {}


def test_agents_import_nothing_from_policies() -> None:
    offending = {module: sorted(t for t in targets if t.startswith("policies"))
                 for module, targets in GRAPH.items() if module.startswith("agents")}

    assert {module: targets for module, targets in offending.items() if targets} == {}


def test_every_reason_is_built_by_the_engines_reasons_module() -> None:
    builders = []
    for module, path in MODULES.items():
        if module == "policies.engine.reasons":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                function = node.func
                name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
                if name == "Reason":
                    builders.append(f"{module}:{node.lineno}")

    assert builders == []


def test_no_app_imports_the_console() -> None:
    offending = {module: sorted(t for t in targets if t.startswith("gqlgov.console"))
                 for module, targets in GRAPH.items() if not module.startswith("gqlgov.console")}

    assert {module: targets for module, targets in offending.items() if targets} == {}
