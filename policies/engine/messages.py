"""Messages about a failed document that are safe to store and show: they quote none of its
literal values, and say what kind of operation an unreadable document attempted."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    GraphQLError,
    ListValueNode,
    Node,
    ObjectFieldNode,
    ObjectValueNode,
    Source,
    ValueNode,
    VariableNode,
    print_ast,
)
from graphql.language import Lexer, TokenKind

from .limits import DEFAULT_CAPS


def located(error: GraphQLError) -> str:
    """The error's message without any literal value of the document, with where it is.

    Messages are stored and shown beside the redacted document, so a literal they quoted
    (`String cannot represent a non string value: 12345678`) would undo the redaction; the
    agent that sent the value still learns where it is.
    """
    message = _without_literals(error)
    if not error.locations:
        return message
    location = error.locations[0]
    return f"{message} (line {location.line}, column {location.column})"


_LITERAL_SHOWN = "a literal"
# How graphql-core's lexer and parser quote a literal token: `found Int '99'`, `Unexpected String 'x'`.
_QUOTED_TOKEN = re.compile(r"\b(Int|Float|String|BlockString) '.*'(?=\.$)", re.DOTALL)


def _without_literals(error: GraphQLError) -> str:
    message = _QUOTED_TOKEN.sub(r"\1", error.message)
    printed = {print_ast(node) for node in _literal_nodes(error.nodes or ())}
    for text in sorted(printed, key=len, reverse=True):
        message = message.replace(text, _LITERAL_SHOWN)
    return message


def _literal_nodes(nodes: Iterable[Node]) -> Iterator[ValueNode]:
    """Every literal value node in `nodes` and inside them (lists, objects, arguments)."""
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if isinstance(node, ListValueNode):
            pending.extend(node.values)
        elif isinstance(node, ObjectValueNode):
            pending.extend(field.value for field in node.fields)
        elif isinstance(node, ArgumentNode | ObjectFieldNode):
            pending.append(node.value)
        elif isinstance(node, DirectiveNode | FieldNode):
            pending.extend(node.arguments or ())
        if isinstance(node, ValueNode) and not isinstance(node, VariableNode):
            yield node


def attempted_mutation(text: str, max_tokens: int | None) -> str | None:
    """"mutation" when an unparseable document starts a definition with `mutation`, read token by
    token up to the syntax error (or the token cap)."""
    lexer = Lexer(Source(text))
    depth = 0
    try:
        for _ in range(max_tokens or DEFAULT_CAPS.max_tokens or 0):
            token = lexer.advance()
            if token.kind is TokenKind.EOF:
                break
            if token.kind is TokenKind.BRACE_L:
                depth += 1
            elif token.kind is TokenKind.BRACE_R:
                depth -= 1
            elif depth == 0 and token.kind is TokenKind.NAME and token.value == "mutation":
                return "mutation"
    except GraphQLError:
        pass
    return None


# --------------------------------------------------------------------------------------- hints
# One sentence per reason that an LLM (or a person) can act on: what to change, with the numbers
# that make it pass. Like the messages, hints quote no literal value of the document: only names
# (fields, arguments, variables, operations), the policy's own text and numbers gqlgov computed.

# Names listed in one hint sentence; the answer's `hints` carry longer lists.
VARIABLES_NOT_BINDABLE_HINT = (
    "Send integers beyond 2**53, NaN, infinities and lone surrogates as strings, then check again."
)
HINT_NAMES_SHOWN = 5
# A condition clause is policy text of up to 100,000 characters: hints quote its start.
HINT_CLAUSE_CHARS = 200


def counted(count: int | float, singular: str, plural: str | None = None) -> str:
    """`1 alias`, `16 aliases`: the number with the noun it counts."""
    shown = int(count) if isinstance(count, float) and count.is_integer() else count
    return f"{shown} {singular if shown == 1 else plural or singular + 's'}"


def listing(items: Sequence[str], shown: int = HINT_NAMES_SHOWN, *, total: int | None = None) -> str:
    """`a`, `a and b`, `a, b and c`, `a, b, c and 4 more` (`total` counts items not passed)."""
    total = len(items) if total is None else total
    head = list(items[:shown])
    rest = total - len(head)
    if rest > 0:
        return ", ".join(head) + f" and {rest} more"
    if len(head) <= 1:
        return "".join(head)
    return ", ".join(head[:-1]) + f" and {head[-1]}"


def dotted(path: Sequence[str]) -> str:
    return ".".join(path)


def limit_source(rule: str | None, *, budget: bool = False) -> str:
    """Who sets a limit, as the subject of `allows`/`allow`."""
    if budget:
        return f"the cost budget {rule}"
    return f"rule {rule!r}" if rule else "the policy defaults or server caps"


def _allows(rule: str | None, budget: bool = False) -> str:
    return f"{limit_source(rule, budget=budget)} {'allows' if rule or budget else 'allow'}"


# What the document has too much of, per limit dimension: (phrase for the actual, noun for the limit).
_MEASURED = {
    "max_depth": ("is nested {n} deep", ("level", "levels")),
    "max_aliases": ("uses {n}", ("alias", "aliases")),
    "max_root_fields": ("selects {n}", ("root field", "root fields")),
    "max_tokens": ("has {n}", ("token", "tokens")),
    "max_directives": ("uses {n}", ("directive", "directives")),
    "max_cost": ("costs {n}", None),
}


def limit_message(dimension: str, limit: int | float, actual: int | float | None, rule: str | None,
                  *, budget: bool = False) -> str:
    """`The document uses 16 aliases; rule 'reads' allows at most 15.`"""
    phrase, noun = _MEASURED[dimension]
    if noun is None:
        shown, allowed = ("more than " + str(limit) if actual is None else str(actual)), str(limit)
    else:
        shown = f"more than {counted(limit, *noun)}" if actual is None else counted(actual, *noun)
        allowed = counted(limit, *noun)
    if budget:
        return (f"The document {phrase.format(n=shown)}; {limit_source(rule, budget=True)} holds at most"
                f" {allowed} at once (its burst), so it can never pass.")
    return f"The document {phrase.format(n=shown)}; {_allows(rule)} at most {allowed}."


def depth_hint(limit: int, examples: Sequence[Sequence[str]] = ()) -> str:
    such_as = f", such as {listing([dotted(path) for path in examples], 3)}" if examples else ""
    return (f"Nest selections at most {counted(limit, 'level')} deep (the root field is level 1): drop the"
            f" deeper selections{such_as}.")


def alias_hint(limit: int, unaliased: Sequence[Sequence[str]] = (), dropped: Sequence[Sequence[str]] = ()) -> str:
    start = f"Use at most {counted(limit, 'alias', 'aliases')}"
    if not unaliased and not dropped:
        return (f"{start}: remove the alias from fields whose names do not clash, or split the document"
                " into several checks.")
    actions = []
    if unaliased:
        actions.append(f"remove the alias of {listing([dotted(path) for path in unaliased], 3)}")
    if dropped:
        actions.append(f"move {listing([dotted(path) for path in dropped], 3)} to another check")
    return f"{start}: {' and '.join(actions)}."


def root_field_hint(limit: int, dropped: Sequence[str] = ()) -> str:
    start = f"Select at most {counted(limit, 'root field')} in one document"
    if dropped:
        return f"{start}: send {listing(list(dropped), 3)} in another check."
    return f"{start}: send the others in further checks."


def token_hint(limit: int) -> str:
    return (f"Shorten the document to at most {counted(limit, 'token')}: select fewer fields or split it into"
            " several checks.")


def directive_hint(limit: int) -> str:
    return f"Use at most {counted(limit, 'directive')}: leave out the @include and @skip directives you do not need."


def cost_hint(limit: int | float, actual: int | float | None, *, budget: bool = False) -> str:
    """The cost hint when no slicing argument can bring the cost down far enough (or none drives it)."""
    target = f"to at most {limit}" if actual is None else f"from {actual} to at most {limit}"
    end = "; no wait makes it pass" if budget else ""
    return (f"Lower the slicing arguments (such as first or last) or select fewer list fields to bring the cost"
            f" {target}{end}.")


def slicing_hint(limit: int | float, cap: int, sites: Sequence[tuple[Sequence[str], str, str | None, bool]],
                 *, cost_after: int | float | None = None) -> str:
    """Which slicing arguments drive the cost and the largest value that fits (`first: 99`).

    `sites` are (path of the field, argument, variable or None, whether the value is a list whose
    items count); `cost_after` is the cost with every one at `cap`."""
    actions = []
    for path, argument, variable, items in sites:
        if variable:
            actions.append(f"send at most {counted(cap, 'item')} in ${variable}" if items
                           else f"send ${variable} with a value of at most {cap}")
        else:
            where = f"{argument} on {dotted(path)}"
            actions.append(f"pass at most {counted(cap, 'item')} in {where}" if items
                           else f"set {where} to at most {cap}")
    after = f" (it then costs {cost_after})" if cost_after is not None else ""
    return (f"The cost comes from slicing arguments: {listing(list(dict.fromkeys(actions)), 3)} to stay within"
            f" {limit}{after}.")


def no_matching_rule_hint(operation: str, callable_operations: Sequence[str], count: int,
                          contact: str | None) -> str:
    owner = f"the policy's owner ({contact})" if contact else "the policy's owners"
    if not count:
        return f"This agent may call no operation of this schema; ask {owner} for a rule that allows {operation}."
    return (f"Leave {operation} out: this agent may call {counted(count, 'operation')} of this schema"
            f" ({listing(callable_operations, total=count)}); ask {owner} for a rule if it needs {operation}.")


def day_names(days: Sequence[int]) -> str:
    """`Monday to Friday`, `Saturday and Sunday`, `every day` (Monday is 0)."""
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    ordered = sorted(set(days))
    if len(ordered) == 7:
        return "every day"
    if len(ordered) >= 3 and ordered[-1] - ordered[0] == len(ordered) - 1:
        return f"{names[ordered[0]]} to {names[ordered[-1]]}"
    return listing([names[day] for day in ordered], 7)


def hours_phrase(start: str, end: str, days: Sequence[int], tz: str, opens_at: str | None) -> tuple[str, str]:
    """(when the rule admits, what to do) for a failed `hours` condition."""
    when = f"from {start} to {end} on {day_names(days)} ({tz})"
    action = f"retry at {opens_at}, when the window next opens" if opens_at else "retry within that window"
    return when, action


def networks_phrase(networks: Sequence[str]) -> tuple[str, str]:
    noun = "the network" if len(networks) == 1 else "the networks"
    return (f"from addresses in {noun} {listing(networks, 3)}",
            "send the check from an address in " + ("it" if len(networks) == 1 else "one of them"))


def shown_clause(clause: str) -> str:
    """A condition clause as hints quote it: its start, when it is long."""
    return clause if len(clause) <= HINT_CLAUSE_CHARS else clause[: HINT_CLAUSE_CHARS - 1] + "…"


def clause_phrase(clause: str | None) -> tuple[str, str]:
    if clause is None:
        return ("when its expression holds",
                "change what the expression tests (the arguments, the context you send) so that it holds")
    return (f"when `{shown_clause(clause)}` holds",
            "change what that clause tests (the arguments, the context you send) so that it holds")


def condition_hint(rule: str, operation: str, phrases: Sequence[tuple[str, str]]) -> str:
    """`Rule 'r' admits query.orders only from 08:00 to 18:00 … ; retry at …`, from (when, action) pairs."""
    if not phrases:
        return f"Rule {rule!r} covers {operation}, but its conditions do not hold now; retry when they do."
    whens = " and ".join(when for when, _ in phrases)
    actions = " and ".join(action for _, action in phrases)
    return f"Rule {rule!r} admits {operation} only {whens}; {actions}."


def denied_by_rule_hint(rule: str, operation: str, key: str) -> str:
    return f"Leave {key} out of the document: rule {rule!r} denies {operation} to this agent."


def forbidden_field_hint(rule: str, coordinate: str, path: Sequence[str]) -> str:
    return f"Leave {coordinate} out of the selection at {dotted(path)}: rule {rule!r} forbids it to this agent."


INTROSPECTION_HINT = (
    "Leave __schema and __type out of the document (__typename is fine): introspection is disabled, so ask the"
    " schema's owners for its SDL instead."
)
PARSE_HINT = "Fix the GraphQL syntax at the line and column the message names, then check the document again."
VALIDATION_HINT = (
    "Change the document so that it is valid against the schema, as the message says (the field, argument,"
    " variable or fragment it names), then check it again."
)
VARIABLES_OBJECT_HINT = "Send variables as a JSON object that maps each variable's name to its value."
VARIABLE_VALUE_HINT = "Send each variable the operation declares with a value of its declared type."
NESTED_TOO_DEEPLY_HINT = "Nest the document, its fragments and its variables less deeply."


def too_many_operations_hint(limit: int) -> str:
    return f"Send at most {counted(limit, 'operation')} in one document and name the one to check in operationName."


def repeated_selection_hint(limit: int) -> str:
    return (f"Select each response key at most {counted(limit, 'time')} in one selection set: repeating a field"
            " returns no more data.")


def operation_not_found_hint(operation_name: str | None, available: Sequence[str]) -> str:
    if available:
        return f"Set operationName to one of the operations the document defines: {listing(available, 10)}."
    if operation_name is None:
        return "Add an operation, such as `query { … }`, to the document."
    return "Set operationName to the name of an operation the document defines, or leave it out when it defines one."


def document_too_large_hint(limit: int) -> str:
    return f"Send a document of at most {counted(limit, 'byte')}: select fewer fields or split it into several checks."


def approval_hint(operation: str) -> str:
    return f"Wait for a person to approve {operation}, or leave it out of the document to get an answer now."


# APPROVAL_* (reasons.approval_refused): the message (with the approval's id) and the hint.
APPROVAL_REFUSALS = {
    "APPROVAL_NOT_FOUND": ("No approval request {id} of this agent exists.",
                           "Send the check without approval_id to ask for a new approval."),
    "APPROVAL_MISMATCH": ("Approval request {id} was granted for another document, variables, schema or policy"
                          " version.",
                          "Send exactly the document and variables that were approved, or check without"
                          " approval_id to ask for a new approval."),
    "APPROVAL_USED": ("Approval request {id} was already used: an approval admits one call.",
                      "Send the check without approval_id to ask for a new approval."),
    "APPROVAL_EXPIRED": ("Approval request {id} expired before it was used.",
                         "Send the check without approval_id to ask for a new approval."),
    "APPROVAL_DENIED": ("A person denied approval request {id}.",
                        "Do not retry this operation unchanged; act on the approver's comment or ask a person."),
}


def expression_input_hint(limit: int, what: str) -> str:
    return (f"Send less in context (fewer or shorter values) so that context, args, claims and attributes hold at"
            f" most {limit} {what} together.")


UNKNOWN_SCHEMA_HINT = "Set 'schema' to the name of a registered schema."


def unknown_schema_message(message: str, schemas: Sequence[str]) -> str:
    """An UNKNOWN_SCHEMA message followed by the schemas the caller may check."""
    if not schemas:
        return f"{message} No registered schema has a policy that lets you call anything yet."
    return f"{message} Registered schemas you may check: {', '.join(schemas)}."


def unknown_schema_hint(schemas: Sequence[str]) -> str:
    if not schemas:
        return "Ask the policy's owner for a rule that names you; until then every check is denied."
    if len(schemas) == 1:
        return f"Set 'schema' to '{schemas[0]}'."
    return f"Set 'schema' to one of: {', '.join(repr(name) for name in schemas)}."
NO_ACTIVE_POLICY_HINT = (
    "Check again once a person has approved a policy for this schema; until then every check of it is denied."
)
UNKNOWN_PRINCIPAL_HINT = (
    "Send the access token of a person registered in gqlgov (one who has signed in once), or check without"
    " 'on_behalf_of'."
)
DELEGATOR_SUSPENDED_HINT = "Ask an administrator to resume this person, or check without 'on_behalf_of'."


def used_up_hint(cost: bool, retry_after_s: float, retry_at: str | None, remaining: int | None,
                 burst: int | None, weight: int | None) -> str:
    """When to retry and what is left of the limit."""
    seconds = max(1, math.ceil(retry_after_s))
    when = f"Retry in {counted(seconds, 'second')}" + (f" (at {retry_at})" if retry_at else "")
    if remaining is None or burst is None:
        return f"{when}."
    if cost:
        need = f" and this document costs {weight}" if weight is not None else ""
        return (f"{when}, when the budget has room for this document, or send a cheaper one: {remaining} of"
                f" {counted(burst, 'cost unit')} {_are(remaining)} left now{need}.")
    return f"{when}: {remaining} of {counted(burst, 'request')} {_are(remaining)} left until then."


def _are(count: int) -> str:
    return "is" if count == 1 else "are"
