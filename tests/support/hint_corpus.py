"""Denials to hold the engine's hints to, shared by the engine tests and the benchmark (`manage.py bench`).

Each base document (the engine's fixtures in tests/data/queries, the bench's generated documents)
is allowed under a permissive policy; every case changes the document or the policy so that the
check is denied. A case is *fixable* when a rewrite provably exists: the change adds something a
rewrite can leave out again (a root field, an alias, introspection, a root field no rule admits,
a larger slicing value), or cuts the document where a field within the new bound is left (a depth
limit above some leaf, a forbidden leaf beside another leaf). The other cases (no rule, conditions,
syntax, tokens...) need a hint but have no rewrite. Pure Python: no Django, no I/O but tests/data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
from graphql.pyutils import Undefined

from policies import engine
from policies.engine import Analysis, CompiledPolicy, Decision, Reason, RequestContext, SchemaBundle, Subject, reasons

DATA = Path(__file__).resolve().parents[1] / "data"
# A Monday, 10:00 UTC: outside the night window the condition cases name.
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SUBJECT = Subject(name="corpus-agent", kind="ai", groups=("corpus",), attributes={"team": "support"})
REQUEST = RequestContext(ip="10.1.2.3", now=NOW, context={"ticket": "SUP-1"})
# Loose enough for every base document; each case tightens one thing.
LOOSE = {"max_depth": 30, "max_aliases": 200, "max_root_fields": 100, "max_tokens": 8000, "max_directives": 100,
         "max_cost": 10_000_000}
RAISED = 100_000  # a slicing value far over any cost limit


@dataclass(frozen=True)
class HintCase:
    name: str
    bundle: SchemaBundle
    policy: CompiledPolicy
    query: str
    variables: dict[str, Any] | None = None
    fixable: bool = False
    request: RequestContext = REQUEST
    limits: engine.AnalysisLimits = field(default_factory=engine.AnalysisLimits)
    operation_name: str | None = None

    def decide(self, query: str | None = None, variables: dict[str, Any] | None = None) -> Decision:
        """The check of this case's document (or of `query`, a suggestion, with its `variables`)."""
        analysis = engine.analyze(self.bundle, self.query if query is None else query, limits=self.limits,
                           variables=self.variables if query is None else variables,
                           operation_name=self.operation_name)
        return engine.decide(self.policy, analysis, subject=SUBJECT, request=self.request,
                             caps=engine.DEFAULT_CAPS)


def policy(schema: str, *, limits: dict[str, int] | None = None, operations: Sequence[str] = ("query.*", "mutation.*"),
           when: dict[str, Any] | None = None, extra_rules: Sequence[dict[str, Any]] = (),
           rules: bool = True, contact: str | None = "api-owners@example.com") -> dict[str, Any]:
    """A permissive policy document for `schema`, with one thing changed."""
    rule: dict[str, Any] = {"id": "corpus-reads", "effect": "allow", "subjects": {"kinds": ["ai"]},
                            "operations": list(operations)}
    if when:
        rule["when"] = when
    document: dict[str, Any] = {"schema": schema, "defaults": {"limits": {**LOOSE, **(limits or {})},
                                                               "introspection": "deny"},
                                "rules": [*extra_rules, rule] if rules else []}
    if contact:
        document["contact"] = contact
    return document


def fixture_documents() -> list[tuple[str, str, dict[str, Any] | None]]:
    """(name, query, variables) of every engine fixture in tests/data/queries."""
    documents = []
    for path in sorted((DATA / "queries").glob("*.graphql")):
        text = path.read_text()
        variables = next((json.loads(line.split(":", 1)[1]) for line in text.splitlines()
                          if line.startswith("# variables:")), None)
        documents.append((path.stem, text, variables))
    return documents


def shop_cases() -> list[HintCase]:
    bundle = engine.build_schema((DATA / "shop.graphql").read_text())
    return [case for name, query, variables in fixture_documents()
            for case in cases_for(bundle, "shop", name, query, variables)]


def cases_for(bundle: SchemaBundle, schema: str, name: str, query: str,
              variables: dict[str, Any] | None) -> Iterator[HintCase]:
    """The denials derived from one base document, which the permissive policy allows."""
    base = engine.compile_policy(policy(schema), schema=bundle)
    analysis = engine.analyze(bundle, query, variables=variables)
    allowed = engine.decide(base, analysis, subject=SUBJECT, request=REQUEST, caps=engine.DEFAULT_CAPS)
    if allowed.decision != "allow" or analysis.metrics is None:
        raise ValueError(f"{name}: the base document must be allowed, got {[r.code for r in allowed.reasons]}")
    metrics = analysis.metrics
    mutation = analysis.operation_type == "mutation"

    def case(kind: str, document: dict[str, Any], text: str = query, values: dict[str, Any] | None = variables,
             *, fixable: bool, **options: Any) -> HintCase:
        return HintCase(f"{name}/{kind}", bundle, engine.compile_policy(document, schema=bundle), text, values,
                        fixable, **options)

    roots = [root.operation for root in analysis.root_fields if root.governed]
    other = _other_root(bundle, analysis)
    yield case("extra_root_field", policy(schema, limits={"max_root_fields": metrics.root_fields}),
               _with_root(query, "__typename"), fixable=True)
    yield case("extra_alias", policy(schema, limits={"max_aliases": metrics.aliases}),
               _with_root(query, "hintAlias: __typename"), fixable=True)
    if metrics.depth > 1:
        yield case("one_level_too_deep", policy(schema, limits={"max_depth": metrics.depth - 1}),
                   fixable=_leaf_within(bundle, analysis, metrics.depth - 1))
    forbidden = _forbidden_leaf(bundle, analysis)
    if forbidden is not None:
        coordinate, others = forbidden
        deny = {"id": "corpus-no-field", "effect": "deny", "operations": ["*"], "fields": {"deny": [coordinate]}}
        yield case("forbidden_leaf", policy(schema, extra_rules=[deny]), fixable=others)
    raised = _raised_slicing(query, variables)
    if raised is not None:
        yield case("raised_slicing_argument", policy(schema, limits={"max_cost": int(metrics.cost)}), *raised,
                   fixable=True)
    if not mutation:
        yield case("introspection", policy(schema), _with_root(query, "__schema { queryType { name } }"),
                   fixable=True)
        if other is not None:
            yield case("root_field_no_rule_admits", policy(schema, operations=roots), _with_root(query, other),
                       fixable=True)
            yield case("several_problems", policy(schema, operations=roots,
                                                  limits={"max_root_fields": metrics.root_fields}),
                       _with_root(_with_root(query, other), "__type(name: \"Query\") { name }"), fixable=True)
    yield from _unfixable(case, schema, query, metrics, roots)


def _unfixable(case: Any, schema: str, query: str, metrics: Any, roots: Sequence[str]) -> Iterator[HintCase]:
    """Denials no rewrite cures: each still needs a hint."""
    yield case("no_rule", policy(schema, rules=False, contact=None), fixable=False)
    yield case("denied_by_rule", policy(schema, extra_rules=[{"id": "corpus-deny", "effect": "deny",
                                                              "operations": list(roots)}]), fixable=False)
    night = {"hours": {"from": "22:00", "to": "06:00", "days": ["mon", "tue", "wed"], "tz": "Europe/Berlin"}}
    yield case("outside_hours", policy(schema, when=night), fixable=False)
    yield case("foreign_address", policy(schema, when={"source_ips": ["192.0.2.0/24", "2001:db8::/32"]}),
               fixable=False)
    expression = 'agent.kind == "ai" && context.ticket.startsWith("OPS-") && request.ip != ""'
    yield case("expression_clause", policy(schema, when={"expression": expression}), fixable=False)
    oversized = RequestContext(ip=REQUEST.ip, now=NOW, context={"notes": ["x"] * 200})
    yield case("expression_input_too_large", policy(schema, when={"expression": "size(context) < 5"}),
               fixable=False, request=oversized)
    yield case("too_many_tokens", policy(schema, limits={"max_tokens": metrics.tokens - 1}), fixable=False)
    if metrics.directives:
        yield case("too_many_directives", policy(schema, limits={"max_directives": metrics.directives - 1}),
                   fixable=False)
    yield case("syntax_error", policy(schema), query.rstrip().rstrip("}"), fixable=False)
    yield case("unknown_field", policy(schema), _with_root(query, "hintNoSuchField"), fixable=False)
    yield case("unknown_operation_name", policy(schema), fixable=False, operation_name="HintNoSuchOperation")
    yield case("document_too_large", policy(schema), fixable=False,
               limits=engine.AnalysisLimits(max_document_bytes=len(query.encode()) - 1))


def limiter_reasons() -> list[Reason]:
    """The reasons decided outside `decide` (the limiter, the check without a policy or against a schema
    version awaiting review, the signer, approvals)."""
    return [
        reasons.limit_used_up(False, "reads/requests", 60, 60, 2.5, burst=10, remaining=0, weight=1,
                              retry_at="2026-12-04T10:00:03+00:00"),
        reasons.limit_used_up(True, "defaults/cost", 5000, 3600, 30.2, burst=5000, remaining=12, weight=16,
                              retry_at="2026-12-04T10:00:31+00:00"),
        reasons.limit_exceeded("max_cost", 10, 16, "reads/cost", budget=True),
        reasons.without_policy(reasons.UNKNOWN_SCHEMA, "No schema named 'nope' is registered."),
        reasons.without_policy(reasons.NO_ACTIVE_POLICY, "Schema 'shop' has no approved policy yet."),
        reasons.variables_not_bindable("an integer beyond 2**53"),
        reasons.schema_version_pending("shop", 1, 2),
        # Decided by the engine, but on the check's lookup of the agent's persisted operations.
        reasons.not_persisted("query.orders", ("orders",), "persisted-reads"),
        *(reasons.approval_refused(code, "6f1c7f36-0000-4000-8000-000000000001", rule="refunds-need-a-human",
                                   comment="Refunded already.")
          for code in (reasons.APPROVAL_NOT_FOUND, reasons.APPROVAL_MISMATCH, reasons.APPROVAL_USED,
                       reasons.APPROVAL_EXPIRED, reasons.APPROVAL_DENIED)),
        reasons.unknown_principal("No person is registered for OIDC subject 'person-9'."),
        reasons.delegator_suspended("alice"),
        # Decided when a REST request is matched against the API's routes (rest_routes.py).
        reasons.unknown_route("GET", "/customers"),
        reasons.method_not_allowed_by_api("PATCH", "/orders/{id}", ("DELETE", "GET")),
        reasons.request_invalid("The query parameter 'limit' must be an integer.", "query", "limit"),
        reasons.request_invalid("The path has an empty segment (//).", "path"),
    ]


def _selected_operation(document: Any) -> graphql.OperationDefinitionNode:
    return next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))


def _with_root(query: str, selection: str) -> str:
    """`query` with one more root selection (text such as `alias: field { sub }`) in its operation."""
    document = graphql.parse(query)
    operation = _selected_operation(document)
    [added] = _selected_operation(graphql.parse("{ " + selection + " }")).selection_set.selections
    grown = graphql.OperationDefinitionNode(
        operation=operation.operation, name=operation.name, variable_definitions=operation.variable_definitions,
        directives=operation.directives,
        selection_set=graphql.SelectionSetNode(selections=(*operation.selection_set.selections, added)),
    )
    definitions = tuple(grown if definition is operation else definition for definition in document.definitions)
    return graphql.print_ast(graphql.DocumentNode(definitions=definitions))


def _raised_slicing(query: str, variables: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None] | None:
    """`query` with its first `first:` argument (a literal, or the variable it names) set to RAISED."""
    for field_node in _fields(graphql.parse(query)):
        for argument in field_node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, graphql.VariableNode):
                return query, {**(variables or {}), argument.value.name.value: RAISED}
            if isinstance(argument.value, graphql.IntValueNode):
                location = argument.value.loc
                assert location is not None
                return query[: location.start] + str(RAISED) + query[location.end :], variables
    return None


def _fields(node: Any) -> Iterator[graphql.FieldNode]:
    for definition in getattr(node, "definitions", ()):
        yield from _fields(definition.selection_set)
    for selection in getattr(node, "selections", ()):
        if isinstance(selection, graphql.FieldNode):
            yield selection
        if getattr(selection, "selection_set", None) is not None:
            yield from _fields(selection.selection_set)


def _leaves(bundle: SchemaBundle, analysis: Analysis) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(coordinate, field name, first path) of every leaf field the document selects under a root field
    that needs a rule (the root field itself when it is a leaf)."""
    for root in analysis.root_fields:
        if not root.governed:
            continue
        for coordinate, path in root.coordinates.items():
            type_name, _, field_name = coordinate.rpartition(".")
            parent = bundle.schema.get_type(type_name)
            info = bundle.field_info(parent, field_name) if parent is not None else None
            if info is not None and graphql.is_leaf_type(info.type):
                yield coordinate, field_name, tuple(path)


def _leaf_within(bundle: SchemaBundle, analysis: Analysis, depth: int) -> bool:
    return any(len(path) <= depth for _, _, path in _leaves(bundle, analysis))


def _forbidden_leaf(bundle: SchemaBundle, analysis: Analysis) -> tuple[str, bool] | None:
    """A leaf coordinate to forbid (not a meta field), and whether a leaf of another name is left."""
    leaves = list(_leaves(bundle, analysis))
    candidates = [(coordinate, name) for coordinate, name, _ in leaves if not name.startswith("__")]
    if not candidates:
        return None
    coordinate, name = candidates[-1]
    return coordinate, any(other != name for _, other, _ in leaves)


def _other_root(bundle: SchemaBundle, analysis: Analysis) -> str | None:
    """A root field of the query type the document does not select, as `alias: field(args) { __typename }`."""
    query_type = bundle.schema.query_type
    selected = {root.name for root in analysis.root_fields}
    literals = {"ID": '"1"', "String": '"x"', "Int": "1", "Boolean": "true"}
    for name, definition in (query_type.fields.items() if query_type else ()):
        required = {arg: graphql.get_named_type(spec.type).name for arg, spec in definition.args.items()
                    if graphql.is_non_null_type(spec.type) and spec.default_value is Undefined}
        if name in selected or any(kind not in literals for kind in required.values()):
            continue
        arguments = ", ".join(f"{arg}: {literals[kind]}" for arg, kind in required.items())
        selection = "" if graphql.is_leaf_type(graphql.get_named_type(definition.type)) else " { __typename }"
        return f"hintOther: {name}{f'({arguments})' if arguments else ''}{selection}"
    return None
