"""What an agent is shown of a decision: nothing of the schema outside its own schema (own_schema.py).

The decision itself is the engine's (decide.py) over the full schema, and it is what the decision
record, the audit trail and the console show: admins see the true cause (FORBIDDEN_FIELD,
NO_MATCHING_RULE, DENIED_BY_RULE, the cost of a hidden field). An agent is shown a denial as it
would be decided against its own schema, where a hidden field (denied by `fields.deny`, on a type
it cannot reach, or a root field no rule admits it) does not exist: the same reason
(GRAPHQL_VALIDATION_FAILED), message, metrics and hints as a field that exists nowhere. This module
is the one place that tells the two views apart; the check calls `shown_to_agent` on every denial.

Only denials change: an allow or a pending approval names nothing outside what the agent asked
(its root fields are in its own schema: they are admitted), and the decision (allow, deny,
pending_approval) is never changed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from graphql import DocumentNode, build_ast_schema
from graphql.language import DefinitionNode

from .analysis import Analysis, analyze
from .decide import DENY, Decision
from .schema import SchemaBundle, bundle_of_schema

# A GraphQL name anywhere in the document's text (strings and comments included: a conservative
# superset of the names it selects, declares and spreads on).
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


@dataclass(frozen=True, eq=False)
class Visibility:
    """What of the full schema an agent's own schema keeps, as far as telling it about a document needs.

    Built with the own schema (own_schema.own_schema) and cached with it, per policy version and
    agent name, kind and groups; the own schema as a schema (`build_bundle`) is built by the caller
    on the first denial that needs it, and cached apart (it is as large as a schema)."""

    fields: Mapping[str, frozenset[str]]  # kept object and interface type -> its kept field names
    types: frozenset[str]  # the own schema's types; every root type of the full schema among them
    hidden_types: frozenset[str]  # types of the full schema that are not
    # The names of hidden types, and of fields some type of the full schema has but the own schema lacks.
    hidden_names: frozenset[str]
    # The own schema's definitions, every root type kept (without fields when nothing is callable).
    definitions: tuple[DefinitionNode, ...]

    def build_bundle(self) -> SchemaBundle:
        """The own schema built for analysing documents (the definitions come from a valid schema)."""
        document = DocumentNode(definitions=self.definitions)
        return bundle_of_schema(build_ast_schema(document, assume_valid=True, assume_valid_sdl=True))

    def shows_coordinate(self, coordinate: str) -> bool:
        type_name, _, field_name = coordinate.partition(".")
        if type_name not in self.types:
            return False
        return field_name.startswith("__") or field_name in self.fields.get(type_name, ())


def may_reveal_hidden(decision: Decision, analysis: Analysis) -> bool:
    """Whether the denial may need the own schema at all: a document that did not parse (or was
    too large to) is told nothing about the schema, nor is an allow or a pending approval."""
    return decision.decision == DENY and isinstance(analysis.request.query, str) and analysis.metrics is not None


def reveals_hidden(decision: Decision, analysis: Analysis, visibility: Visibility) -> bool:
    """Whether the denial could tell the agent something outside its own schema (else it is shown as is).

    For a document that passed validation: a selected coordinate (or one it stands for through
    interfaces) the own schema lacks, or a hidden type named (a fragment's type condition, a
    variable's type). For one that did not: any hidden name in it, since validation messages name
    fields and types, and what was measured before validation (the cost) counts hidden fields'
    weights."""
    if not may_reveal_hidden(decision, analysis):
        return False
    names = _names_in(analysis.request.query)
    if not analysis.ok:
        return not names.isdisjoint(visibility.hidden_names)
    if not names.isdisjoint(visibility.hidden_types):
        return True
    return any(
        not visibility.shows_coordinate(coordinate) for root in analysis.root_fields for coordinate in root.coordinates
    )


def _names_in(query: str) -> frozenset[str]:
    return frozenset(_NAME.findall(query))


def shown_to_agent(
    decision: Decision,
    analysis: Analysis,
    visibility: Visibility,
    decide_again: Callable[[Analysis], Decision],
    own_bundle: Callable[[], SchemaBundle] | None = None,
) -> Decision:
    """`decision` as the agent may see it: when it could reveal something hidden, the denial of
    the same document analysed against the agent's own schema (`own_bundle()`, by default
    `visibility.build_bundle()`; `decide_again` decides it under the same policy, agent and
    request); otherwise `decision` itself. Always a deny for a deny."""
    if not reveals_hidden(decision, analysis, visibility):
        return decision
    request = analysis.request
    own = analyze(
        own_bundle() if own_bundle is not None else visibility.build_bundle(),
        request.query,
        operation_name=request.operation_name,
        variables=request.variables,
        limits=request.limits,
        default_list_size=request.default_list_size,
        mutation_base_cost=request.mutation_base_cost,
    )
    if own.ok:
        # Valid against the own schema after all (a name was hidden on another type only):
        # the true reasons are about what the agent may see.
        return decision
    shown = decide_again(own)
    return dataclasses.replace(
        shown, decision=DENY, admitting_rules=decision.admitting_rules, deciding_rule=decision.deciding_rule
    )


def as_shown(final: Decision, true: Decision, shown: Decision) -> Decision:
    """`final` (the engine's `true` decision after the check's later steps: approvals, the limiter)
    with the engine's reasons, hints, metrics and operation replaced by `shown`'s. Reasons a later
    step put in place of the engine's (an approval's refusal) are kept: they name no schema."""
    if shown is true:
        return final
    count = len(true.reasons)
    if list(final.reasons[:count]) != list(true.reasons):
        return final
    return dataclasses.replace(
        final,
        reasons=[*shown.reasons, *final.reasons[count:]],
        hints=[*shown.hints, *final.hints[len(true.hints):]],
        metrics=shown.metrics,
        operation=shown.operation,
    )


def visibility_of(
    schema_types: Mapping[str, Sequence[str] | None],
    kept_fields: Mapping[str, Sequence[str]],
    kept_types: Sequence[str],
    definitions: Sequence[DefinitionNode],
) -> Visibility:
    """The visibility of an own schema: `schema_types` maps every named type of the full schema to
    its field names (None for types without fields), `kept_fields` the own schema's object and
    interface types to theirs, `kept_types` names the own schema's types (root types included)."""
    kept = frozenset(kept_types)
    fields = {name: frozenset(kept_fields.get(name, ())) for name in kept if schema_types.get(name) is not None}
    hidden_types = frozenset(name for name in schema_types if name not in kept and not name.startswith("__"))
    lost = {
        field
        for type_name, names in schema_types.items()
        if names is not None and not type_name.startswith("__")
        for field in names
        if field not in fields.get(type_name, ())
    }
    return Visibility(
        fields=fields,
        types=kept,
        hidden_types=hidden_types,
        hidden_names=hidden_types | frozenset(lost),
        definitions=tuple(definitions),
    )


__all__ = ["Visibility", "as_shown", "may_reveal_hidden", "reveals_hidden", "shown_to_agent", "visibility_of"]
