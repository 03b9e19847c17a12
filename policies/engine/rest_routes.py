"""REST routes of an OpenAPI 3.0/3.1 document, and matching a request line against them.

Operations are named `rest.<METHOD>.<path template>` (`rest.GET./orders/{id}`), so the operation
globs of matching.py cover them as they cover GraphQL operations.

Matching is strict by design, because a policy decides on the route and a gateway forwards the raw
path: a path is split on `/` *before* percent-decoding, and a segment that decodes to something a
backend could read as another path (`/`, `\\`, `.`, `..`, NUL or another control character, a
second layer of percent-encoding, invalid or overlong UTF-8) refuses the request (REQUEST_INVALID)
rather than matching any route. A trailing slash names the same route (`/orders/` is `/orders`);
an empty segment inside the path (`/orders//42`) is refused. Templates with literal segments win
over parameter segments, segment by segment from the left (OpenAPI 3: "concrete paths are matched
before their templated counterparts"); the best path decides, and a method it lacks is
METHOD_NOT_ALLOWED_BY_API, never a fall-back to a less specific template.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import reasons
from .reasons import Reason

HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")
_TEMPLATE_PARAM = re.compile(r"\{([^{}/]+)\}")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_STILL_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_INTEGER = re.compile(r"[-+]?[0-9]+")
_MAX_REF_DEPTH = 32
# A literal segment sorts before a partly templated one (`{name}.json`), which sorts before `{id}`.
_LITERAL, _MIXED, _PARAMETER = 0, 1, 2


class OpenApiRoutesError(ValueError):
    """The document's `paths` cannot be read as routes (the message says where)."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """A path or query parameter as the document declares it (`schema` with local $refs resolved)."""

    name: str
    location: str  # "path" | "query"
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Segment:
    kind: int
    text: str
    pattern: re.Pattern[str] | None  # for a templated segment: its parameters as named groups
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """One method of one path template."""

    method: str
    template: str
    parameters: tuple[Parameter, ...]

    @property
    def operation(self) -> str:
        return operation_name(self.method, self.template)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The route a request names, its decoded path and query parameters, and what is wrong with
    their values (`problems`, REQUEST_INVALID each; empty: the request fits the document)."""

    route: Route
    path_params: dict[str, Any]
    query: dict[str, Any]
    problems: tuple[Reason, ...] = ()

    @property
    def operation(self) -> str:
        return self.route.operation


@dataclass(frozen=True, slots=True)
class RouteMiss:
    """No route: UNKNOWN_ROUTE, METHOD_NOT_ALLOWED_BY_API (`allowed`) or REQUEST_INVALID (the path)."""

    reason: Reason
    allowed: tuple[str, ...] = ()


def operation_name(method: str, template: str) -> str:
    """The operation a route is governed by: `rest.GET./orders/{id}`."""
    return f"rest.{method}.{template}"


@dataclass(frozen=True)
class _PathItem:
    template: str
    segments: tuple[_Segment, ...]
    routes: dict[str, Route] = field(default_factory=dict)

    @property
    def specificity(self) -> tuple[int, ...]:
        return tuple(segment.kind for segment in self.segments)


class RestRoutes:
    """The routes of one OpenAPI document; `match` finds the one a request names."""

    def __init__(self, items: Sequence[_PathItem]) -> None:
        # Keyed by (segment count, first segment if literal else None): a request looks at the
        # templates whose first segment is its own, then at those starting with a parameter; each
        # list is in precedence order, and every literal-first template precedes every other.
        self._candidates: dict[tuple[int, str | None], list[_PathItem]] = {}
        for item in sorted(items, key=lambda item: item.specificity):
            first = item.segments[0] if item.segments else None
            literal = first.text if first is not None and first.kind == _LITERAL else None
            self._candidates.setdefault((len(item.segments), literal), []).append(item)
        self.routes: tuple[Route, ...] = tuple(route for item in items for route in item.routes.values())

    @property
    def operations(self) -> list[str]:
        return sorted(route.operation for route in self.routes)

    def match(self, method: str, raw_path: str) -> RouteMatch | RouteMiss:
        """The route `method` and `raw_path` (with its query string, undecoded) name, or why none."""
        method = method.upper()
        path, _, query_string = raw_path.partition("?")
        segments = _decoded_segments(path)
        if isinstance(segments, Reason):
            return RouteMiss(segments)
        literal_first = self._candidates.get((len(segments), segments[0]), []) if segments else []
        for item in [*literal_first, *self._candidates.get((len(segments), None), ())]:
            values = _bind(item.segments, segments)
            if values is None:
                continue
            route = item.routes.get(method)
            if route is None:
                allowed = tuple(sorted(item.routes))
                return RouteMiss(reasons.method_not_allowed_by_api(method, item.template, allowed), allowed)
            return _validated(route, values, query_string)
        return RouteMiss(reasons.unknown_route(method, path or "/"))


def routes_from_openapi(document: Mapping[str, Any]) -> RestRoutes:
    """The routes of a parsed OpenAPI 3.0/3.1 document; raises OpenApiRoutesError for a path
    template or parameter that cannot be matched (the spec validator accepts some of these)."""
    paths = document.get("paths") or {}
    if not isinstance(paths, Mapping):
        raise OpenApiRoutesError("paths must be a mapping")
    items: list[_PathItem] = []
    seen: dict[tuple[tuple[int, str], ...], str] = {}
    for template, path_item in paths.items():
        path_item = _resolved(document, path_item, f"paths.{template}")
        item = _PathItem(template, _template_segments(template))
        shape = tuple((s.kind, s.text if s.kind == _LITERAL else "") for s in item.segments)
        if shape in seen and all(s.kind != _MIXED for s in item.segments):
            raise OpenApiRoutesError(f"paths {seen[shape]!r} and {template!r} match the same requests")
        seen[shape] = template
        shared = path_item.get("parameters") or ()
        for method in HTTP_METHODS:
            operation = path_item.get(method.lower())
            if operation is None:
                continue
            operation = _resolved(document, operation, f"paths.{template}.{method.lower()}")
            parameters = _parameters(document, item, shared, operation.get("parameters") or ())
            item.routes[method] = Route(method, template, parameters)
        items.append(item)
    return RestRoutes(items)


def _template_segments(template: str) -> tuple[_Segment, ...]:
    if not isinstance(template, str) or not template.startswith("/"):
        raise OpenApiRoutesError(f"path {template!r} must start with /")
    parts = template.rstrip("/").split("/")[1:] if template != "/" else []
    segments = []
    for part in parts:
        names = tuple(_TEMPLATE_PARAM.findall(part))
        if not part or "{" in _TEMPLATE_PARAM.sub("", part) or "}" in _TEMPLATE_PARAM.sub("", part):
            raise OpenApiRoutesError(f"path {template!r} has an empty or malformed segment")
        if not names:
            segments.append(_Segment(_LITERAL, part, None, ()))
            continue
        pattern = "".join(
            f"(?P<p{i}>.+?)" if i % 2 else re.escape(piece)
            for i, piece in enumerate(_TEMPLATE_PARAM.split(part))
        )
        kind = _PARAMETER if len(names) == 1 and part == f"{{{names[0]}}}" else _MIXED
        segments.append(_Segment(kind, part, re.compile(pattern), names))
    return tuple(segments)


def _parameters(document: Mapping[str, Any], item: _PathItem, shared: Any, own: Any) -> tuple[Parameter, ...]:
    """Path-item parameters overridden by the operation's (same name and location), path and query only."""
    declared: dict[tuple[str, str], Parameter] = {}
    for raw in [*_listed(shared), *_listed(own)]:
        parameter = _resolved(document, raw, f"paths.{item.template}.parameters")
        location, name = parameter.get("in"), parameter.get("name")
        if location not in ("path", "query") or not isinstance(name, str):
            continue  # headers and cookies are not matched here
        schema = _resolved(document, parameter.get("schema") or {}, f"parameter {name}")
        declared[(location, name)] = Parameter(name, location, location == "path" or bool(parameter.get("required")),
                                               schema)
    for segment in item.segments:
        for name in segment.names:
            declared.setdefault(("path", name), Parameter(name, "path", True, {}))
    return tuple(declared.values())


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _resolved(document: Mapping[str, Any], value: Any, where: str) -> Mapping[str, Any]:
    """`value` with its local `$ref` (`#/components/...`) followed; registration refuses other refs."""
    for _ in range(_MAX_REF_DEPTH):
        if not isinstance(value, Mapping):
            raise OpenApiRoutesError(f"{where} must be a mapping")
        ref = value.get("$ref")
        if not isinstance(ref, str):
            return value
        if not ref.startswith("#/"):
            raise OpenApiRoutesError(f"{where}: only local references (#/...) are followed, not {ref!r}")
        target: Any = document
        for key in ref[2:].split("/"):
            key = key.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or key not in target:
                raise OpenApiRoutesError(f"{where}: reference {ref!r} names nothing")
            target = target[key]
        value = target
    raise OpenApiRoutesError(f"{where}: references nested more than {_MAX_REF_DEPTH} deep")


def _decoded_segments(path: str) -> list[str] | Reason:
    """The path's segments, each percent-decoded once, or the refusal of an ambiguous path."""
    if not path.startswith("/"):
        return reasons.request_invalid("The path must start with /.", "path")
    if "#" in path:
        return reasons.request_invalid("The path must not carry a fragment (#).", "path")
    parts = path[1:].split("/")
    if parts and parts[-1] == "":
        parts.pop()  # one trailing slash names the same route
    decoded = []
    for part in parts:
        segment = _decoded_segment(part)
        if isinstance(segment, Reason):
            return segment
        decoded.append(segment)
    return decoded


def _decoded_segment(part: str) -> str | Reason:
    if part == "":
        return reasons.request_invalid("The path has an empty segment (//).", "path")
    if "%" in _PERCENT.sub("", part):
        return reasons.request_invalid("The path has a malformed percent-escape.", "path")
    segment = _percent_decoded(part)
    if segment is None:
        return reasons.request_invalid("The path has a percent-escape that is not valid UTF-8.", "path")
    if segment in (".", "..") or "/" in segment or "\\" in segment:
        return reasons.request_invalid(
            "The path has a segment that reads as a path of its own (., .., an encoded / or \\).", "path"
        )
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in segment):
        return reasons.request_invalid("The path has a control character (such as NUL).", "path")
    if _STILL_ENCODED.search(segment):
        return reasons.request_invalid("The path is percent-encoded twice.", "path")
    return segment


def _bind(template: Sequence[_Segment], segments: Sequence[str]) -> dict[str, str] | None:
    values: dict[str, str] = {}
    for expected, actual in zip(template, segments, strict=True):
        if expected.pattern is None:
            if expected.text != actual:
                return None
            continue
        found = expected.pattern.fullmatch(actual)
        if found is None:
            return None
        values.update(zip(expected.names, found.groups(), strict=True))
    return values


def _validated(route: Route, path_values: dict[str, str], query_string: str) -> RouteMatch:
    query_values = _query_values(query_string)
    if isinstance(query_values, Reason):
        return RouteMatch(route, {}, {}, (query_values,))
    path_params: dict[str, Any] = {}
    query: dict[str, Any] = {}
    problems: list[Reason] = []
    for parameter in route.parameters:
        given = [path_values[parameter.name]] if parameter.location == "path" and parameter.name in path_values \
            else query_values.get(parameter.name, []) if parameter.location == "query" else []
        if not given:
            if parameter.required:
                problems.append(reasons.request_invalid(
                    f"The {parameter.location} parameter {parameter.name!r} is required.", parameter.location,
                    parameter.name))
            continue
        value, problem = _parameter_value(parameter, given)
        if problem is not None:
            problems.append(reasons.request_invalid(
                f"The {parameter.location} parameter {parameter.name!r} {problem}.", parameter.location,
                parameter.name))
        else:
            (path_params if parameter.location == "path" else query)[parameter.name] = value
    declared = {p.name for p in route.parameters if p.location == "query"}
    query.update({name: values[-1] if len(values) == 1 else values
                  for name, values in query_values.items() if name not in declared})
    return RouteMatch(route, path_params, query, tuple(problems))


def _query_values(query_string: str) -> dict[str, list[str]] | Reason:
    """`a=1&b=x+y&a=2` as {"a": ["1", "2"], "b": ["x y"]}, decoded strictly (no NUL, valid UTF-8)."""
    values: dict[str, list[str]] = {}
    for pair in query_string.split("&") if query_string else ():
        if not pair:
            continue
        name, _, value = pair.partition("=")
        decoded = [_decoded_query_part(part.replace("+", " ")) for part in (name, value)]
        if None in decoded:
            return reasons.request_invalid("The query string has a malformed or non-UTF-8 percent-escape, or a"
                                           " control character.", "query")
        values.setdefault(str(decoded[0]), []).append(str(decoded[1]))
    return values


def _decoded_query_part(text: str) -> str | None:
    if "%" in _PERCENT.sub("", text):
        return None
    decoded = _percent_decoded(text)
    return None if decoded is None or any(ord(char) < 0x20 or ord(char) == 0x7F for char in decoded) else decoded


_PERCENT_BYTES = re.compile(rb"%([0-9A-Fa-f]{2})")


def _percent_decoded(text: str) -> str | None:
    """`text` percent-decoded once as UTF-8; None for invalid UTF-8 (overlong forms, surrogates)."""
    try:
        raw = _PERCENT_BYTES.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
        return raw.decode("utf-8")
    except UnicodeError:
        return None


def _parameter_value(parameter: Parameter, given: list[str]) -> tuple[Any, str | None]:
    """The parameter's value typed by its schema, or (None, what is wrong with it)."""
    schema = parameter.schema
    if "array" in _types(schema):
        declared_items = schema.get("items")
        items: Mapping[str, Any] = declared_items if isinstance(declared_items, Mapping) else {}
        values = [piece for value in given for piece in (value.split(",") if parameter.location == "path" else [value])]
        typed = []
        for value in values:
            item, problem = _scalar(items, value)
            if problem is not None:
                return None, f"has an item that {problem}"
            typed.append(item)
        if isinstance(schema.get("minItems"), int) and len(typed) < schema["minItems"]:
            return None, f"needs at least {schema['minItems']} values"
        if isinstance(schema.get("maxItems"), int) and len(typed) > schema["maxItems"]:
            return None, f"takes at most {schema['maxItems']} values"
        return typed, None
    if len(given) > 1:
        return None, "is given more than once"
    return _scalar(schema, given[0])


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    return [declared] if isinstance(declared, str) else [t for t in declared if isinstance(t, str)] \
        if isinstance(declared, list) else []


def _scalar(schema: Mapping[str, Any], text: str) -> tuple[Any, str | None]:
    types = [t for t in _types(schema) if t != "null"] or ["string"]
    problem: str | None = "is not valid"
    for kind in types:
        value, problem = _typed(kind, text)
        if problem is None:
            constraint = _constraint_problem(schema, value)
            return (value, None) if constraint is None else (None, constraint)
    return None, problem


def _typed(kind: str, text: str) -> tuple[Any, str | None]:
    if kind == "integer":
        return (int(text), None) if _INTEGER.fullmatch(text) and len(text) <= 40 else (None, "must be an integer")
    if kind == "number":
        try:
            number = float(text) if len(text) <= 64 else math.nan
        except ValueError:
            number = math.nan
        return (number, None) if math.isfinite(number) else (None, "must be a number")
    if kind == "boolean":
        return ({"true": True, "false": False}[text], None) if text in ("true", "false") \
            else (None, "must be true or false")
    if kind == "string":
        return text, None
    return None, f"has type {kind}, which is not matched here"


def _constraint_problem(schema: Mapping[str, Any], value: Any) -> str | None:
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"must be one of {', '.join(map(str, enum[:20]))}"
    if isinstance(value, str):
        return _string_problem(schema, value)
    if isinstance(value, bool):
        return None
    return _number_problem(schema, value)


def _string_problem(schema: Mapping[str, Any], value: str) -> str | None:
    if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
        return f"must be at least {schema['minLength']} characters long"
    if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
        return f"must be at most {schema['maxLength']} characters long"
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = False
        if not matched:
            return f"must match the pattern {pattern}"
    return None


def _number_problem(schema: Mapping[str, Any], value: float) -> str | None:
    """minimum/maximum, and exclusiveMinimum/Maximum as 3.1 numbers or 3.0 booleans."""
    for bound, exclusive, below in (("minimum", "exclusiveMinimum", True), ("maximum", "exclusiveMaximum", False)):
        limit, strict = schema.get(bound), schema.get(exclusive)
        if isinstance(strict, (int, float)) and not isinstance(strict, bool):
            limit, strict = strict, True
        if not isinstance(limit, (int, float)) or isinstance(limit, bool):
            continue
        out = (value < limit or (strict is True and value == limit)) if below else \
            (value > limit or (strict is True and value == limit))
        if out:
            relation = ("greater than" if strict is True else "at least") if below else \
                ("less than" if strict is True else "at most")
            return f"must be {relation} {limit}"
    return None
