"""An OpenAPI 3.0/3.1 document read from its text (JSON or YAML) and validated, with bounded work.

The text is read strictly: JSON or YAML 1.2 (the policy files' loader), duplicate keys refused,
YAML aliases refused (an alias bomb expands to billions of nodes for whatever walks it), nesting
at most `max_depth` deep, and only local references (`#/...`): the spec validator would otherwise
fetch `http:` and `file:` references while validating. It is then validated by
openapi-spec-validator against the OpenAPI 3.0 or 3.1 schema its `openapi` field names, and its
routes read by rest_routes.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from .policy_yaml import _PolicyLoader
from .rest_routes import OpenApiRoutesError, RestRoutes, routes_from_openapi

DEFAULT_MAX_DEPTH = 64
_VALIDATORS = {"3.0": OpenAPIV30SpecValidator, "3.1": OpenAPIV31SpecValidator}


class OpenApiDocumentError(ValueError):
    """Why a text is no OpenAPI document the registry accepts: `code` is the registry's error code
    (OPENAPI_SYNTAX_ERROR, OPENAPI_TOO_COMPLEX, OPENAPI_INVALID), `details` what locates it."""

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})


@dataclass(frozen=True)
class RestApi:
    """A validated OpenAPI document and its routes."""

    document: dict[str, Any]
    routes: RestRoutes

    @property
    def operations(self) -> list[str]:
        return self.routes.operations


class _OpenApiLoader(_PolicyLoader):
    """The policy files' YAML 1.2 loader, refusing aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not accepted", event.start_mark)
        return super().compose_node(parent, index)


def build_rest_api(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH, validate: bool = True) -> RestApi:
    """The OpenAPI document in `text` (JSON or YAML), validated (unless `validate` is False: a
    document validated before), with its routes; raises OpenApiDocumentError saying why it is refused."""
    document = _parsed(text)
    if not isinstance(document, dict):
        raise OpenApiDocumentError("OPENAPI_INVALID", "An OpenAPI document must be a mapping (a JSON object).")
    _check_shape(document, max_depth)
    document = _with_string_keys(document)
    version = str(document.get("openapi", ""))
    validator = _VALIDATORS.get(version[:3]) if version[3:4] in ("", ".") else None
    if validator is None:
        raise OpenApiDocumentError("OPENAPI_INVALID", f"Only OpenAPI 3.0 and 3.1 documents are accepted (openapi:"
                                   f" {version[:20] or 'missing'}).", {"path": "openapi"})
    error = _first_error(validator, document) if validate else None
    if isinstance(error, OpenAPIValidationError):
        parts = [str(part) for part in error.absolute_path]
        summary = next(iter(error.message.splitlines()), "")[:500]
        raise OpenApiDocumentError("OPENAPI_INVALID", f"The document is not valid OpenAPI {version[:3]}: at"
                                   f" {' > '.join(parts) or 'the top level'}: {summary}", {"path": parts})
    if error is not None:
        raise OpenApiDocumentError("OPENAPI_INVALID", f"The document is not valid OpenAPI: {str(error)[:500]}")
    try:
        routes = routes_from_openapi(document)
    except OpenApiRoutesError as exc:
        raise OpenApiDocumentError("OPENAPI_INVALID", f"The document's paths cannot be matched: {exc}") from None
    return RestApi(document, routes)


def _first_error(validator: Any, document: dict[str, Any]) -> Exception | None:
    """The validator's first complaint. It follows references as it validates, so a reference
    loop or one to nothing raises from inside it (RecursionError, referencing's Unresolvable)."""
    try:
        return next(iter(validator(document).iter_errors()), None)
    except RecursionError:
        raise OpenApiDocumentError("OPENAPI_INVALID", "The document's references form a loop.") from None
    except Unresolvable as exc:
        ref = str(getattr(exc, "ref", ""))[:200]
        raise OpenApiDocumentError("OPENAPI_INVALID", f"The reference {ref!r} names nothing in the document.",
                                   {"ref": ref}) from None


def _parsed(text: str) -> Any:
    try:
        if text.lstrip().startswith("{"):
            return json.loads(text, object_pairs_hook=_without_duplicates)
        return yaml.load(text, Loader=_OpenApiLoader)  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise OpenApiDocumentError("OPENAPI_TOO_COMPLEX", "The document is nested too deeply.") from None
    except json.JSONDecodeError as exc:
        raise OpenApiDocumentError("OPENAPI_SYNTAX_ERROR", f"The document is not valid JSON: {exc.msg}",
                                   {"line": exc.lineno, "column": exc.colno}) from None
    except ValueError as exc:  # a duplicate key in JSON
        raise OpenApiDocumentError("OPENAPI_SYNTAX_ERROR", f"The document is not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        details = {"line": mark.line + 1, "column": mark.column + 1} if mark is not None else {}
        raise OpenApiDocumentError("OPENAPI_SYNTAX_ERROR", f"The document is neither JSON nor YAML: {problem}",
                                   details) from None


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"duplicate key {key!r}")
        document[key] = value
    return document


def _check_shape(document: dict[str, Any], max_depth: int) -> None:
    """Refuses nesting over `max_depth`, non-string keys and references that are not local."""
    for depth, key, value in _walk(document):
        if depth > max_depth:
            raise OpenApiDocumentError("OPENAPI_TOO_COMPLEX", f"The document is nested more than {max_depth} deep.",
                                       {"max_depth": max_depth})
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise OpenApiDocumentError("OPENAPI_INVALID", "Every key of an OpenAPI document is a string.")
        if key == "$ref" and not (isinstance(value, str) and value.startswith("#")):
            raise OpenApiDocumentError("OPENAPI_INVALID", f"Only local references (#/...) are accepted, not"
                                       f" {str(value)[:200]!r}.", {"ref": str(value)[:200]})


def _with_string_keys(value: Any) -> Any:
    """YAML reads `200:` as the integer 200; OpenAPI's keys are strings (depth already bounded)."""
    if isinstance(value, dict):
        return {str(key): _with_string_keys(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_with_string_keys(child) for child in value]
    return value


def _walk(document: dict[str, Any]) -> Iterator[tuple[int, Any, Any]]:
    """(depth, key, value) for every node, iteratively (a deep document must not overflow the stack)."""
    stack: list[tuple[int, Any, Any]] = [(0, "", document)]
    while stack:
        depth, key, value = stack.pop()
        yield depth, key, value
        if isinstance(value, dict):
            stack.extend((depth + 1, child_key, child) for child_key, child in value.items())
        elif isinstance(value, list):
            stack.extend((depth + 1, index, child) for index, child in enumerate(value))


def diff_rest_apis(old: RestRoutes, new: RestRoutes) -> dict[str, Any]:
    """Routes added and removed, and per route kept the parameters (`path.id`, `query.limit`)
    added, removed or changed (required or schema), each list sorted."""
    old_routes = {route.operation: route for route in old.routes}
    new_routes = {route.operation: route for route in new.routes}
    changed = []
    for operation in sorted(old_routes.keys() & new_routes.keys()):
        before = {f"{p.location}.{p.name}": (p.required, p.schema) for p in old_routes[operation].parameters}
        after = {f"{p.location}.{p.name}": (p.required, p.schema) for p in new_routes[operation].parameters}
        entry = {
            "operation": operation,
            "added": sorted(after.keys() - before.keys()),
            "removed": sorted(before.keys() - after.keys()),
            "changed": sorted(name for name in before.keys() & after.keys() if before[name] != after[name]),
        }
        if entry["added"] or entry["removed"] or entry["changed"]:
            changed.append(entry)
    return {
        "routes_added": sorted(new_routes.keys() - old_routes.keys()),
        "routes_removed": sorted(old_routes.keys() - new_routes.keys()),
        "parameters_changed": changed,
    }
