"""Typed factories for engine tests: the shop schema, policies, agents and checks."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from policies.engine import (
    Analysis,
    AnalysisLimits,
    CompiledPolicy,
    Decision,
    Limits,
    RequestContext,
    SchemaBundle,
    Subject,
    analyze,
    build_schema,
    compile_policy,
    decide,
    parse_policy_yaml,
)

DATA = Path(__file__).resolve().parents[2] / "data"
# A Monday, 10:00 in Berlin: inside the example policy's office hours.
MONDAY_MORNING_BERLIN = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
NO_CAPS = Limits()


def data_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@cache
def shop() -> SchemaBundle:
    return build_schema(data_text("shop.graphql"))


def policy_document(**changes: Any) -> dict[str, Any]:
    """The example policy (tests/data/shop_policy.yaml) with top-level keys replaced."""
    document = copy.deepcopy(_example_policy())
    document.update(changes)
    return document


@cache
def _example_policy() -> dict[str, Any]:
    return parse_policy_yaml(data_text("shop_policy.yaml"))


def example_policy() -> CompiledPolicy:
    return compile_policy(policy_document(), schema=shop())


def policy_with_rules(*rules: dict[str, Any], **changes: Any) -> CompiledPolicy:
    """The example defaults with only `rules`."""
    return compile_policy(policy_document(rules=list(rules), **changes), schema=shop())


def support_bot(**changes: Any) -> Subject:
    values: dict[str, Any] = {
        "name": "support-bot",
        "kind": "ai",
        "groups": ("support",),
        "attributes": {"team": "support"},
        "claims": {},
    }
    values.update(changes)
    return Subject(**values)


def office_request(**changes: Any) -> RequestContext:
    values: dict[str, Any] = {"ip": "10.1.2.3", "now": MONDAY_MORNING_BERLIN, "context": {}}
    values.update(changes)
    return RequestContext(**values)


def analysis_of(query: str, variables: dict[str, Any] | None = None, **options: Any) -> Analysis:
    return analyze(shop(), query, variables=variables, **options)


def check(
    query: str,
    *,
    policy: CompiledPolicy | None = None,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
    subject: Subject | None = None,
    request: RequestContext | None = None,
    caps: Limits = NO_CAPS,
    limits: AnalysisLimits | None = None,
) -> Decision:
    """The whole pre-check: analyse `query` against the shop schema and decide."""
    analysis = analyze(
        shop(), query, operation_name=operation_name, variables=variables, limits=limits or AnalysisLimits()
    )
    return decide(
        policy or example_policy(),
        analysis,
        subject=subject or support_bot(),
        request=request or office_request(),
        caps=caps,
    )


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]
