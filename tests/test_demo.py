"""`make run`'s demo data and first run: the printed curl lines work against the API, a user per
role, one clean block on the console with the logs in files."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest
from django.core.management import call_command

from policies.gateway.models import ExportRun
from tests.conftest import bearer
from tests.support.ports import free_port
from tests.support.servers import ROOT, stop, wait_until

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


def test_seed_demo_creates_a_user_per_role_and_prints_what_each_may_do(client, capsys):
    from gqlgov import roles

    call_command("seed_demo")
    output = capsys.readouterr().out

    for role in roles.ROLES:
        assert f"    {role:<8}  {roles.role_summary(role)}\n" in output
        assert client.login(username=role, password="gqlgov-demo"), role
        from django.contrib.auth import get_user_model

        assert roles.roles_of(get_user_model().objects.get(username=role)) == {role}
        client.logout()
    assert "approve or reject others' policy versions" in output


def test_the_printed_pre_check_names_its_schema_and_still_works_once_a_second_schema_exists(client, capsys):
    from policies.services import schema_register

    call_command("seed_demo")
    output = capsys.readouterr().out
    schema_register(actor="test", name="billing", sdl="type Query { invoices: [String!]! }")
    pre_check = next(line for line in output.splitlines() if "/api/v1/check" in line)
    token = re.search(r"Bearer (gqg_\S+)'", pre_check).group(1)
    body = re.search(r"-d '([^']+)'", pre_check).group(1)

    response = client.post("/api/v1/check", data=body, content_type="application/json", **bearer(token))

    assert json.loads(body)["schema"] == "shop"
    assert response.json()["decision"] == "allow"


@pytest.mark.slow
def test_make_run_prints_one_clean_block_and_sends_service_and_moto_logs_to_files(tmp_path):
    port, aws_port = free_port(), free_port()
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("GQLGOV_", "DATABASE_URL", "REDIS_URL"))}
    environment.update({"GQLGOV_DATA_DIR": str(tmp_path), "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "gqlgov.settings"})
    command = [sys.executable, str(ROOT / "manage.py"), "rundemo", "--addr", f"127.0.0.1:{port}",
               "--aws-port", str(aws_port)]
    stdout = tmp_path / "stdout.txt"
    with stdout.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(f"http://127.0.0.1:{port}/admin/login/", timeout_s=120, process=process)
        finally:
            stop(process, signal.SIGINT)
    printed = stdout.read_text()

    assert printed.lstrip().startswith(f"gqlgov demo is ready: http://127.0.0.1:{port}/admin/")
    assert printed.rstrip().endswith("Stop with Ctrl-C."), printed
    assert '{"time"' not in printed and "\x1b" not in printed
    moto_log = (tmp_path / "moto.log").read_text()
    assert "/restapis" in moto_log  # the demo export went to moto, and its log to the file
    assert "\x1b" not in moto_log and "\\u001b" not in moto_log
    logged = [json.loads(line) for line in (tmp_path / "gqlgov.log").read_text().splitlines() if line.startswith("{")]
    assert any(entry.get("logger") == "gqlgov.request" for entry in logged)
