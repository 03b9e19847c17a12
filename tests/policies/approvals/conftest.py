"""Personas and helpers for approval requests: an AI agent with an owner, approvers (people
with the approver role, linked principals that call the API), and the shop policy whose refunds
need a person."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from tests.conftest import bearer, issue_token_for, make_principal
from tests.policies.conftest import SHOP_POLICY, activate_policy

CHECK = "/api/v1/check"
REFUND = 'mutation Refund($id: ID!) { refundOrder(id: $id) { id } }'
TWO_PERSON_POLICY = SHOP_POLICY.replace(
    'operations: ["mutation.refundOrder"]}',
    'operations: ["mutation.refundOrder"], approval: {approvers: 2, groups: [payments-leads], expires_in: 15m}}',
)


def make_person(username: str, *groups: str, staff: bool = True):
    """A signed-in person in `groups`, and the API token of the principal linked to them."""
    user = get_user_model().objects.create_user(username, password="correct-horse-battery", is_staff=staff)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    principal = make_principal(f"{username}-human", "human", user=user)
    return user, issue_token_for(principal)


def check(client, token, **body):
    return client.post(CHECK, data=json.dumps(body), content_type="application/json", **bearer(token))


def refund(client, token, order: str = "1", **body):
    return check(client, token, query=REFUND, variables={"id": order}, **body)


def decide(client, token, approval_id: str, decision: str, comment: str = ""):
    return client.post(f"/api/v1/approvals/{approval_id}", data=json.dumps({"decision": decision, "comment": comment}),
                       content_type="application/json", **bearer(token))


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("olga", password="correct-horse-battery", is_staff=True)


@pytest.fixture
def bot(owner):
    return make_principal("refund-bot", "ai", groups=["support"], owner=owner)


@pytest.fixture
def bot_token(bot) -> str:
    return issue_token_for(bot)


@pytest.fixture
def approver():
    return make_person("ann", "gqlgov-approvers")


@pytest.fixture
def second_approver():
    return make_person("bea", "gqlgov-approvers")


@pytest.fixture
def refunds(shop_schema):
    return activate_policy(SHOP_POLICY)


@pytest.fixture
def two_person_refunds(shop_schema):
    return activate_policy(TWO_PERSON_POLICY)


from tests.support.celery_worker import celery_worker, start_celery_worker  # noqa: E402, F401
from tests.support.redis_server import throwaway_redis_server  # noqa: E402, F401
