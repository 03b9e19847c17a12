"""Formatting the admin pages of every app share (the console's and the apps' own ModelAdmins):
values as YAML or indented JSON, never Python reprs; GraphQL documents printed by graphql-core."""

import json
from typing import Any

import yaml
from graphql import GraphQLError, parse, print_ast

# A stored document is at most the check's body limit; past this the text is shown as stored.
MAX_PRINTED_DOCUMENT = 256 * 1024


def pretty(value: Any) -> str:
    """JSON-like data as indented, key-sorted JSON text for a <pre> block."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def as_yaml(value: Any) -> str:
    """A value as block YAML (keys in their given order); a scalar as its YAML text, without
    the document-end marker; None as an empty string (the template shows a dash)."""
    if value is None:
        return ""
    plain = json.loads(json.dumps(value, default=str))  # tuples, dates, Decimals as JSON would
    text = yaml.safe_dump(plain, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return text.removesuffix("...\n").rstrip("\n")


def graphql_pretty(document: str) -> str:
    """The document printed by graphql-core (one selection a line, two-space indent); the text as
    stored when it does not parse (a decision may record a document the check refused)."""
    if not document or len(document) > MAX_PRINTED_DOCUMENT:
        return document
    try:
        return print_ast(parse(document, no_location=True))
    except (GraphQLError, RecursionError):
        return document


def one_line(details: dict[str, Any], limit: int = 120) -> str:
    """`key: value` pairs of a details dict on one line (values as compact JSON), cut at `limit`."""
    parts = []
    for key, value in details.items():
        if key in ("before", "after") or value in ("", None, [], {}):  # documents, empties: on the event's page
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(", ", ": "))
        parts.append(f"{key}: {text}")
    line = " · ".join(parts)
    return line if len(line) <= limit else line[: limit - 1] + "…"
