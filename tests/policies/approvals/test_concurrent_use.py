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


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
                    reason="in-memory SQLite refuses concurrent connections' reads (table locks): PostgreSQL only")
def test_two_concurrent_re_checks_of_one_approval_get_exactly_one_allow(shop_schema, bot_token):
    activate_policy(SHOP_POLICY)
    _person, approver_token = make_person("ann", "gqlgov-approvers")
    approval_id = refund(Client(), bot_token).json()["approval"]["id"]
    decide(Client(), approver_token, approval_id, "approve")
    start = threading.Barrier(2)
    answers: list[dict] = []

    def re_check() -> None:
        try:
            start.wait()
            answers.append(refund(Client(), bot_token, approval_id=approval_id).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=re_check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer["decision"] for answer in answers) == ["allow", "deny"]
    [denied] = [answer for answer in answers if answer["decision"] == "deny"]
    assert denied["reasons"][0]["code"] == "APPROVAL_USED"
    assert sum("decision_token" in answer for answer in answers) == 1
    assert ApprovalRequest.objects.get(pk=approval_id).status == "used"
    assert AuditEvent.objects.filter(action="approval.used", target_id=approval_id).count() == 1
