"""Explaining a denial: a specific hint for each reason a rewrite can cure, and a suggested query
that itself passes the check.

Runs only for a deny (never for an allowed document). The rewrite (suggest.py, slicing.py) is
analysed and decided again with the same policy, agent and request; when that is still denied for
reasons a rewrite cures (aliases an inlined fragment repeats, say), it is rewritten once more. A
suggestion is offered only when the last rewrite is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, InlineFragmentNode, SelectionNode

from . import messages, reasons
from . import variables as variables_module
from .analysis import Analysis, analyze
from .policy import Rule
from .reasons import (
    ALIAS_LIMIT,
    CONDITION_NOT_MET,
    COST_LIMIT,
    DENIED_BY_RULE,
    DEPTH_LIMIT,
    FORBIDDEN_FIELD,
    INTROSPECTION_DISABLED,
    NO_MATCHING_RULE,
    ROOT_FIELD_LIMIT,
    Path,
    Reason,
)
from .slicing import SlicingFix, largest_fitting_cap
from .suggest import Cuts, Rewrite, rewrite_document, with_slicing
from .values import plain_number

# Reasons a rewrite of the document can cure: leaving fields, aliases or root fields out, or
# lowering slicing arguments. The root field refusals are cured only by leaving that root field out.
_ROOT_REFUSALS = frozenset({NO_MATCHING_RULE, DENIED_BY_RULE, CONDITION_NOT_MET})
REWRITABLE = frozenset(
    {FORBIDDEN_FIELD, INTROSPECTION_DISABLED, DEPTH_LIMIT, ALIAS_LIMIT, ROOT_FIELD_LIMIT, COST_LIMIT, *_ROOT_REFUSALS}
)
MAX_ROUNDS = 2  # one more try: an inlined fragment may repeat what the first round counted once
# Paths named in one hint sentence.
_EXAMPLES = 3


@dataclass(frozen=True)
class Findings:
    """What deciding one document found, as far as a rewrite needs it."""

    allowed: bool
    violations: tuple[Reason, ...]
    limits: Mapping[str, tuple[int, str | None]]  # per dimension: the effective limit and its rule
    field_denials: Mapping[str, Sequence[Rule]]  # root response key -> matching rules with fields.deny


Judge = Callable[[Analysis], Findings]


def explain(analysis: Analysis, findings: Findings, judge: Judge) -> tuple[list[Reason], list[dict[str, Any]]]:
    """The denial's reasons with specific hints, and the `hints` entry of a suggested query that
    `judge` allows (none when no rewrite passes)."""
    violations = list(findings.violations)
    if not analysis.ok or not any(reason.code in REWRITABLE for reason in violations):
        return violations, []
    rewrite, fix = _rewrite(analysis, findings)
    suggestion = _suggestion(analysis, findings, rewrite, judge)
    if COST_LIMIT in _codes(violations) and (rewrite is None or rewrite.removed or rewrite.unaliased):
        fix = _slicing_of_original(analysis, findings)  # the hint speaks of the document as sent
    return [_specific(reason, rewrite, fix) for reason in violations], [suggestion] if suggestion else []


def _codes(violations: Iterable[Reason]) -> set[str]:
    return {reason.code for reason in violations}


def _cuts(findings: Findings) -> Cuts:
    codes = _codes(findings.violations)
    limits = findings.limits
    denials = findings.field_denials

    def is_forbidden(root_key: str, coordinates: Sequence[str]) -> bool:
        return any(rule.denies_field(coordinate) for rule in denials.get(root_key, ()) for coordinate in coordinates)

    def limit(dimension: str, code: str) -> int | None:
        return limits[dimension][0] if code in codes and dimension in limits else None

    return Cuts(
        max_depth=limit("max_depth", DEPTH_LIMIT),
        drop_introspection=INTROSPECTION_DISABLED in codes,
        is_forbidden=is_forbidden,
        drop_roots=frozenset(
            reason.path[0] for reason in findings.violations if reason.code in _ROOT_REFUSALS and reason.path
        ),
        max_root_fields=limit("max_root_fields", ROOT_FIELD_LIMIT),
        max_aliases=limit("max_aliases", ALIAS_LIMIT),
    )


def _rewrite(analysis: Analysis, findings: Findings) -> tuple[Rewrite | None, SlicingFix | None]:
    """The document with `findings`' violations cut out, slicing arguments lowered to fit the cost."""
    rewrite = rewrite_document(analysis, _cuts(findings))
    if rewrite is None or COST_LIMIT not in _codes(findings.violations):
        return rewrite, None
    fix, coerced = _slicing(analysis, findings, rewrite)
    return (with_slicing(rewrite, fix, coerced), fix) if fix is not None else (rewrite, None)


def _slicing(analysis: Analysis, findings: Findings, rewrite: Rewrite) -> tuple[SlicingFix | None, dict[str, Any]]:
    request = analysis.request
    if "max_cost" not in findings.limits:
        return None, {}
    if analysis.coerced:  # those of the whole operation: a superset of what the rewrite uses
        coerced = analysis.coerced[0]
    else:
        coerced, _problems = variables_module.coerced_variables(
            request.bundle.schema, rewrite.operation, rewrite.variables, request.limits.max_validation_errors
        )
    fix = largest_fitting_cap(
        request.bundle,
        rewrite.operation,
        coerced,
        default_list_size=request.default_list_size,
        base_cost=request.mutation_base_cost if analysis.operation_type == "mutation" else 0,
        limit=findings.limits["max_cost"][0],
    )
    return fix, coerced


def _slicing_of_original(analysis: Analysis, findings: Findings) -> SlicingFix | None:
    whole = rewrite_document(analysis, Cuts())
    return _slicing(analysis, findings, whole)[0] if whole is not None else None


def _suggestion(
    analysis: Analysis, findings: Findings, rewrite: Rewrite | None, judge: Judge
) -> dict[str, Any] | None:
    """The `suggested_query` hint: `rewrite` (rewritten again while still curably denied), if allowed."""
    request = analysis.request
    removed: list[Path] = []
    unaliased: list[Path] = []
    changed: list[dict[str, Any]] = []
    for _round in range(MAX_ROUNDS):
        if rewrite is None or not rewrite.changed or not _asks_something(rewrite.operation.selection_set.selections):
            return None
        removed += rewrite.removed
        unaliased += rewrite.unaliased
        changed += rewrite.changed_arguments
        query = rewrite.text()
        retry = analyze(
            request.bundle,
            query,
            operation_name=analysis.operation_name,
            variables=rewrite.variables,
            limits=request.limits,
            default_list_size=request.default_list_size,
            mutation_base_cost=request.mutation_base_cost,
        )
        # Its root fields are some of the original's, so the conditions it evaluates were evaluated already.
        verdict = judge(retry)
        if verdict.allowed:
            return {
                "kind": "suggested_query",
                "query": query,
                "variables": rewrite.variables,
                "removed_paths": [list(path) for path in dict.fromkeys(removed)],
                "unaliased_paths": [list(path) for path in dict.fromkeys(unaliased)],
                "changed_arguments": changed,
                "fixes": list(dict.fromkeys(reason.code for reason in findings.violations)),
            }
        if not verdict.violations or not _codes(verdict.violations) <= REWRITABLE:
            return None
        rewrite, _fix = _rewrite(retry, verdict)
    return None


def _asks_something(selections: Sequence[SelectionNode]) -> bool:
    """Whether a root field other than a meta field (`__typename`) is left: otherwise the rewrite
    passes without asking for anything the agent wanted."""
    for selection in selections:
        if isinstance(selection, FieldNode) and not selection.name.value.startswith("__"):
            return True
        if isinstance(selection, InlineFragmentNode) and _asks_something(selection.selection_set.selections):
            return True
    return False


def _specific(reason: Reason, rewrite: Rewrite | None, fix: SlicingFix | None) -> Reason:
    """`reason` with a hint naming what the rewrite changes for it (its generic hint otherwise)."""
    limit = int(reason.limit) if reason.limit is not None else 0
    if reason.code == COST_LIMIT and fix is not None and reason.limit is not None:
        sites = [(site.path, site.argument, site.variable, site.items) for site in fix.sites]
        return reasons.with_hint(reason, messages.slicing_hint(reason.limit, fix.cap, sites,
                                                                cost_after=plain_number(fix.cost)))
    if rewrite is None:
        return reason
    if reason.code == DEPTH_LIMIT:
        cut = [path for path in rewrite.removed if len(path) == limit + 1][:_EXAMPLES]
        return reasons.with_hint(reason, messages.depth_hint(limit, cut)) if cut else reason
    if reason.code == ALIAS_LIMIT and (rewrite.unaliased or rewrite.dropped_aliased):
        return reasons.with_hint(reason, messages.alias_hint(limit, rewrite.unaliased, rewrite.dropped_aliased))
    if reason.code == ROOT_FIELD_LIMIT and rewrite.dropped_roots:
        return reasons.with_hint(reason, messages.root_field_hint(limit, rewrite.dropped_roots))
    return reason
