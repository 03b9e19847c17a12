"""Registering a GitHub-sized schema whose SDL fails strict validation, and checking against it."""

import json

import pytest

from policies.models import SchemaVersion
from policies.services import schema_register
from tests.conftest import bearer
from tests.policies.conftest import activate_policy

pytestmark = pytest.mark.django_db

TYPES = 1600


def large_lenient_sdl() -> str:
    """1,600 object types reachable from Query; one type defines a field twice, as GitHub's does."""
    parts = ["interface Node { id: ID! }"]
    for index in range(TYPES):
        duplicate = "  name: String\n" if index == 7 else ""
        parts.append(
            f"type Thing{index} implements Node {{\n  id: ID!\n  name: String\n{duplicate}"
            f"  next: Thing{(index + 1) % TYPES}\n  items(first: Int = 10): [Thing{(index + 2) % TYPES}!]!\n}}"
        )
    roots = "\n".join(f"  thing{index}(id: ID!): Thing{index}" for index in range(0, TYPES, 10))
    parts.append(f"type Query {{\n  node(id: ID!): Node\n{roots}\n}}")
    return "\n\n".join(parts)


def test_large_schema_with_a_duplicated_field_registers_leniently_with_diagnostics():
    version, created = schema_register(actor="test", name="big", sdl=large_lenient_sdl())
    assert created
    assert version.lenient
    assert any("name" in diagnostic for diagnostic in version.diagnostics)
    assert len(version.operations) == 1 + TYPES // 10
    assert SchemaVersion.objects.get().diagnostics == version.diagnostics


def test_checks_against_a_large_lenient_schema_work(client, agent_token):
    schema_register(actor="test", name="big", sdl=large_lenient_sdl())
    activate_policy("""
schema: big
rules:
  - {id: things, effect: allow, subjects: {groups: [support]}, operations: ["query.thing*"]}
""")
    query = '{ thing10(id: "1") { id next { name items(first: 3) { id } } } }'
    response = client.post("/api/v1/check", data=json.dumps({"query": query}), content_type="application/json",
                           **bearer(agent_token))
    body = response.json()
    assert body["decision"] == "allow"
    assert body["metrics"]["cost"] == 1 + 1 + 10  # no @listSize: the default list size applies
