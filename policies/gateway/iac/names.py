"""Names the renderers share: logical ids, the route's resource id, tags as a list."""

from __future__ import annotations

import hashlib
import re

from policies.gateway.plan import GRAPHQL_PATH


def logical(prefix: str, text: str) -> str:
    """A CloudFormation logical id / Terraform name: alphanumeric, unique per text."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", text.title())[:60]
    return f"{prefix}{cleaned}{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def route_id(path: str) -> str:
    return "GraphqlResource" if path == GRAPHQL_PATH else logical("Route", path.rsplit("/", 1)[1])


def path_part(path: str) -> str:
    return path.rsplit("/", 1)[1]


def tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
