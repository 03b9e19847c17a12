"""Using an approval is atomic: of two re-checks at the same instant exactly one gets the allow.

Run on PostgreSQL (CI's phase 1, `python -m tests.run`), with real concurrent transactions. The
embedded test database (in-memory SQLite, shared cache) answers a second connection's read during
a write with "table is locked" instead of queueing it, so the test has nothing to show there.
"""

import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from agents.models import AuditEvent
from policies.models import ApprovalRequest
from tests.policies.conftest import SHOP_POLICY, activate_policy

from .conftest import decide, make_person, refund

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
                       reason="in-memory SQLite refuses concurrent connections' reads (table locks): PostgreSQL only"),
]


def at_once(token: str, **body) -> list[dict]:
    """The answers to two identical refund checks sent at the same instant from two threads."""
    start = threading.Barrier(2)
    answers: list[dict] = []

    def send() -> None:
        try:
            start.wait()
            answers.append(refund(Client(), token, **body).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_identical_checks_at_once_ask_for_one_request(shop_schema, bot_token):
    activate_policy(SHOP_POLICY)

    answers = at_once(bot_token)

    assert [answer["decision"] for answer in answers] == ["pending_approval"] * 2
    assert len({answer["approval"]["id"] for answer in answers}) == 1
    assert ApprovalRequest.objects.count() == 1


def test_two_concurrent_re_checks_of_one_approval_get_exactly_one_allow(shop_schema, bot_token):
    activate_policy(SHOP_POLICY)
    _person, approver_token = make_person("ann", "gqlgov-approvers")
    approval_id = refund(Client(), bot_token).json()["approval"]["id"]
    decide(Client(), approver_token, approval_id, "approve")

    answers = at_once(bot_token, approval_id=approval_id)

    assert sorted(answer["decision"] for answer in answers) == ["allow", "deny"]
    [denied] = [answer for answer in answers if answer["decision"] == "deny"]
    assert denied["reasons"][0]["code"] == "APPROVAL_USED"
    assert sum("decision_token" in answer for answer in answers) == 1
    assert ApprovalRequest.objects.get(pk=approval_id).status == "used"
    assert AuditEvent.objects.filter(action="approval.used", target_id=approval_id).count() == 1
