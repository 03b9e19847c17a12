"""Policy files as YAML: read strictly as YAML 1.2 (duplicate keys refused), written back in order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from .policy import PolicyValidationError, _error


class _PolicyLoader(yaml.SafeLoader):
    """YAML 1.2 scalars: `18:00` stays a string (YAML 1.1 reads it as the number 1080), and
    only true/false are booleans (`on`, `no`, `off` stay strings). A key repeated in one mapping
    is an error, as YAML 1.2 says: PyYAML keeps the last silently, so a reviewer would approve
    rules that are never loaded."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in with `<<` may be overridden, as YAML intends
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_YAML_1_1_SCALARS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML_1_1_SCALARS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?(?:0|[1-9][0-9_]*)", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"[-+]?(?:[0-9][0-9_]*)?\.[0-9]+(?:[eE][-+]?[0-9]+)?", "-+0123456789."),
):
    _PolicyLoader.add_implicit_resolver(_tag, re.compile(f"^(?:{_pattern})$"), list(_first))


def parse_policy_yaml(text: str) -> dict[str, Any]:
    """The policy document in `text`; raises PolicyValidationError for YAML that is not a mapping."""
    try:
        document = yaml.load(text, Loader=_PolicyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise PolicyValidationError([_error(None, "", f"YAML syntax error{where}: {problem}")]) from None
    except RecursionError:
        # PyYAML's parser and composer recurse once per nesting level.
        raise PolicyValidationError([_error(None, "", "YAML nested too deeply")]) from None
    if not isinstance(document, dict):
        raise PolicyValidationError([_error(None, "", "A policy must be a YAML mapping.")])
    return document


def dump_policy_yaml(document: Mapping[str, Any]) -> str:
    """`document` as YAML, keys in their given order; parse_policy_yaml reads it back unchanged."""
    return yaml.safe_dump(
        dict(document), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
