"""Variables coerced to their declared types, as execution would see them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputType,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableDefinitionNode,
    coerce_input_value,
    is_input_type,
    print_ast,
    type_from_ast,
)
from graphql.pyutils import Undefined
from graphql.utilities import validate_input_value

from . import messages, reasons
from .reasons import Reason
from .values import to_json


def coerced_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, provided: Mapping[str, Any], max_errors: int
) -> tuple[dict[str, Any], list[Reason]]:
    """The declared variables coerced to their types by graphql-core, as execution would see them
    (defaults completed, "100000" refused for an Int), and a reason per variable that is not.

    A variable that fails keeps the value sent, so the document is still measured; undeclared
    variables are left out (execution ignores them).
    """
    variables: dict[str, Any] = {}
    problems: list[Reason] = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = type_from_ast(schema, definition.type)
        if type_ is None or not is_input_type(type_):
            continue  # validation reports it
        if name not in provided:
            if definition.default_value is not None:
                variables[name] = to_json(definition.default_value, {})
            elif isinstance(type_, GraphQLNonNull):
                problems.append(reasons.validation_failed(
                    f"Variable '${name}' of required type '{print_ast(definition.type)}' was not provided.",
                    messages.VARIABLE_VALUE_HINT,
                ))
            continue
        value = provided[name]
        coerced = coerce_input_value(value, type_)
        if coerced is Undefined:
            problems.append(reasons.validation_failed(_invalid_variable(name, value, type_, definition),
                                                      messages.VARIABLE_VALUE_HINT))
            variables[name] = value
        else:
            variables[name] = coerced
        if len(problems) >= max_errors:
            break
    return variables, problems


def _invalid_variable(name: str, value: Any, type_: GraphQLInputType, definition: VariableDefinitionNode) -> str:
    """Which variable is invalid and where inside it, never its value (it may be a secret)."""
    paths: list[str] = []

    def on_error(_error: GraphQLError, path: Sequence[str | int]) -> None:
        paths.append("".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path))

    validate_input_value(value, type_, on_error, hide_suggestions=True)
    where = f" at {name}{paths[0]}" if paths and paths[0] else ""
    return f"Variable '${name}' got an invalid value{where}; expected type '{print_ast(definition.type)}'."
