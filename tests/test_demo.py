"""`make run`'s demo data: the printed curl line works against the API."""

import re

import pytest
from django.core.management import call_command

from policies.gateway.models import ExportRun
from tests.conftest import bearer

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.support.moto_server"]


def test_seed_demo_prints_a_token_that_gets_the_demo_agent_back(client, capsys):
    call_command("seed_demo", "--base-url", "http://127.0.0.1:8000")
    output = capsys.readouterr().out
    assert "http://127.0.0.1:8000/admin/" in output
    token = re.search(r"Bearer (gqg_[0-9a-f]{12}_[A-Za-z0-9_-]{43})", output).group(1)
    me = client.get("/api/v1/agents/me", **bearer(token)).json()
    assert me["name"] == "demo-agent"


def test_seed_demo_is_repeatable_and_the_demo_policy_allows_orders(client, capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    token = re.search(r"Bearer (gqg_\S+)'", capsys.readouterr().out).group(1)
    response = client.post(
        "/api/v1/check",
        data='{"query": "{ orders(first: 5) { edges { node { id total } } } }"}',
        content_type="application/json",
        **bearer(token),
    )
    assert response.json()["decision"] == "allow"


@pytest.mark.slow
def test_seed_demo_exports_the_demo_policy_to_the_local_aws_stand_in(moto_url, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--aws-endpoint", moto_url)
    run = ExportRun.objects.get()
    assert run.status == "succeeded", run.error
