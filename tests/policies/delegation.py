"""Factories for checks on behalf of a person: a support agent, a finance person known by their
OIDC subject, a policy where their rules differ, and a check that carries the person's token."""

import json

from tests.conftest import bearer, make_principal
from tests.policies.conftest import activate_policy

CHECK = "/api/v1/check"
PERSON_SUB = "alice-sub"
BOTH_ALLOW = "{ orders(first: 1) { totalCount } }"
AGENT_ONLY = '{ customer(id: "1") { name } }'  # support reads customers, finance does not
PERSON_ONLY = '{ node(id: "1") { id } }'  # finance reads nodes, support does not
DEEP = "{ orders(first: 5) { edges { node { id customer { name } } } } }"  # depth 5: over finance's 4
REFUND = 'mutation Refund($id: ID!) { refundOrder(id: $id) { id } }'

POLICY = """
schema: shop
defaults:
  limits: {{max_depth: 8, max_aliases: 15, max_root_fields: 5, max_tokens: 2000, max_directives: 20, max_cost: 1000}}
  introspection: deny
rules:
  - id: support-reads
    effect: allow
    subjects: {{groups: [support]}}
    operations: ["query.order", "query.orders*", "query.customer"]
    rate_limits: [{agent_limits}]
  - id: finance-reads
    effect: allow
    subjects: {{groups: [finance]}}
    operations: ["query.order", "query.orders*", "query.node"]
    limits: {{max_depth: 4}}
    rate_limits: [{person_limits}]
  - {{id: support-refunds, effect: allow, subjects: {{groups: [support]}}, operations: ["mutation.refundOrder"]}}
  - id: finance-refunds-need-approval
    effect: require_approval
    subjects: {{groups: [finance]}}
    operations: ["mutation.refundOrder"]
"""


def delegation_policy(agent_limits: str = "{requests: 1000, per: minute}",
                      person_limits: str = "{requests: 1000, per: minute}"):
    return activate_policy(POLICY.format(agent_limits=agent_limits, person_limits=person_limits))


def make_person(name: str = "alice", subject: str = PERSON_SUB, groups=("finance",), **fields):
    return make_principal(name, "human", oidc_subject=subject, groups=list(groups), **fields)


def check(client, agent_token: str, query: str = BOTH_ALLOW, *, person_token: str | None = None,
          header: str | None = None, **body):
    """POST /check as the agent, with the person's token in the body (`person_token`) and/or the
    X-On-Behalf-Of header (`header`)."""
    if person_token is not None:
        body["on_behalf_of"] = person_token
    extra = {"HTTP_X_ON_BEHALF_OF": header} if header is not None else {}
    return client.post(CHECK, data=json.dumps({"query": query, **body}), content_type="application/json",
                       **bearer(agent_token), **extra)


def reasons_by_side(body) -> list[tuple[str, str | None]]:
    return [(reason["code"], reason.get("side")) for reason in body["reasons"]]
