"""Identity changes reach the gateway in seconds, measured end to end: `suspend_agent` on the
command line, the debounced export on a real Celery worker (real Redis broker), the resource
policy read back from a real moto server. Issue 21 asks for the figure: under 10 s."""

import time

import pytest
from django.core.management import call_command

from policies.gateway import services
from policies.gateway.aws import aws_client
from policies.gateway.live import normalise_policy
from policies.gateway.models import ExportRun
from tests.gateway.factories import SUPPORT_ROLE
from tests.gateway.test_tasks import finished, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

# Issue 21: "measure the time from suspend_agent to the Allow disappearing in moto (target: under
# 10 s with a running worker)". The default debounce (GQLGOV_IDENTITY_EXPORT_DEBOUNCE_S, 2 s) is in it.
BOUND_S = 10.0


def allowed_roles(client, rest_api_id: str) -> set[str]:
    """The role ARNs some Allow statement of the API's live resource policy names."""
    policy = normalise_policy(client.get_rest_api(restApiId=rest_api_id).get("policy")) or {"Statement": []}
    return {
        arn
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for arn in statement.get("Principal", {}).get("AWS", [])
    }


def test_suspending_an_agent_removes_its_allow_from_the_gateway_within_ten_seconds(
    shop, celery_worker, record_property
):
    _, version, target = shop
    first = services.export_request(actor="test", target=target, version=version)
    first = wait_for(lambda: finished(first), what="the first export")
    assert first.status == ExportRun.Status.SUCCEEDED, first.error
    client = aws_client("apigateway", region="us-east-1", endpoint_url=target.endpoint_url)
    assert SUPPORT_ROLE in allowed_roles(client, first.rest_api_id)

    started = time.monotonic()
    call_command("suspend_agent", "support-bot")
    wait_for(
        lambda: SUPPORT_ROLE not in allowed_roles(client, first.rest_api_id),
        timeout_s=60,
        what="support-bot's Allow to leave the resource policy",
    )
    elapsed = time.monotonic() - started
    record_property("suspend_to_gateway_s", round(elapsed, 2))
    print(f"\nsuspend_agent -> Allow gone in moto: {elapsed:.2f} s (bound {BOUND_S:.0f} s)")

    assert elapsed < BOUND_S
    [run] = ExportRun.objects.filter(trigger=ExportRun.Trigger.IDENTITY)
    run = wait_for(lambda: finished(run), what="the identity export to finish")  # the policy is written mid-run
    assert run.status == ExportRun.Status.SUCCEEDED and run.requested_by == "system"

    call_command("resume_agent", "support-bot")
    wait_for(lambda: SUPPORT_ROLE in allowed_roles(client, first.rest_api_id), what="support-bot's Allow back")


def test_without_a_worker_eager_celery_exports_the_suspension_before_the_command_returns(shop):
    # The embedded default (no Redis, CELERY_TASK_ALWAYS_EAGER): the export runs on commit, in-process.
    _, version, target = shop
    first = services.export_request(actor="test", target=target, version=version)
    first.refresh_from_db()
    assert first.status == ExportRun.Status.SUCCEEDED, first.error
    client = aws_client("apigateway", region="us-east-1", endpoint_url=target.endpoint_url)

    call_command("suspend_agent", "support-bot")

    assert SUPPORT_ROLE not in allowed_roles(client, first.rest_api_id)
    [run] = ExportRun.objects.filter(trigger=ExportRun.Trigger.IDENTITY)
    assert run.status == ExportRun.Status.SUCCEEDED
