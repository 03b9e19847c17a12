"""The export pages: a refused run explains itself, runs report progress as JSON, and each target's
plan downloads as CloudFormation, Terraform and OpenAPI."""

import json

import pytest

from policies.gateway import services
from policies.gateway.models import ExportRun
from tests.console.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db


def target(shop, **fields):
    options = {
        "name": "shop-prod",
        "schema": shop,
        "region": "us-east-1",
        "stage_name": "prod",
        "http_url": "https://shop.internal.example/graphql",
        "account_id": "123456789012",
        "endpoint_url": "http://127.0.0.1:9",  # never contacted by these tests
    }
    return services.target_create(actor="test", **{**options, **fields})


@pytest.fixture
def refused_run(shop):
    """A run refused before any AWS call: the target requires every operation to be governed."""
    strict = target(shop, name="shop-strict", require_full_coverage=True)
    services.export_request(actor="test", target=strict, version=shop.active_policy)
    outcome = services.export_run_execute(version_id=shop.active_policy.pk, target_id=strict.pk)
    assert outcome.status == "refused"
    return ExportRun.objects.get(pk=outcome.run_id)


def test_a_refused_run_is_a_warning_with_its_reason_and_fix(refused_run, viewer):
    text = signed_in(viewer).get(f"/admin/exports/runs/{refused_run.pk}/").content.decode()
    assert 'id="run-refused"' in text and "gg-warning" in text
    assert refused_run.error in text  # in full, not cut off
    assert "requires every operation to be governed" in text and "Add rules for these operations" in text
    assert "a refused run never contacts AWS" in text


def test_the_exports_overview_shows_a_refused_run_in_the_warning_colour(refused_run, viewer):
    text = signed_in(viewer).get("/admin/exports/").content.decode()
    assert 'class="gg-badge gg-refused" data-run-status="refused"' in text


def test_a_run_reports_its_progress_as_json_and_its_page_polls_until_it_finishes(shop, viewer):
    run = services.export_request(actor="test", target=target(shop), version=shop.active_policy)
    client = signed_in(viewer)
    status = client.get(f"/admin/exports/runs/{run.pk}/status/")
    assert status["Content-Type"] == "application/json" and "no-store" in status["Cache-Control"]
    assert status.json() | {"started_at": None} == {
        "id": run.pk,
        "status": "queued",
        "label": "Queued",
        "finished": False,
        "attempt": 0,
        "calls": 0,
        "changing_calls": 0,
        "started_at": None,
        "finished_at": None,
        "error": "",
    }
    page = client.get(f"/admin/exports/runs/{run.pk}/").content.decode()
    assert f'data-poll="/admin/exports/runs/{run.pk}/status/"' in page and "<progress" in page
    overview = client.get("/admin/exports/").content.decode()
    assert f'data-poll="/admin/exports/runs/{run.pk}/status/"' in overview  # its row follows it too


def test_a_finished_run_page_does_not_poll(refused_run, viewer):
    assert signed_in(viewer).get(f"/admin/exports/runs/{refused_run.pk}/status/").json()["finished"] is True
    assert "data-poll=" not in signed_in(viewer).get(f"/admin/exports/runs/{refused_run.pk}/").content.decode()


@pytest.mark.parametrize(
    ("fmt", "suffix", "key"),
    [("cloudformation", "cloudformation.json", "Resources"), ("terraform", "tf.json", "resource"),
     ("openapi", "openapi.json", "openapi")],
)
def test_a_target_downloads_as_infrastructure_code_for_a_version(shop, viewer, fmt, suffix, key):
    gateway = target(shop)
    response = signed_in(viewer).get(f"/admin/exports/targets/{gateway.pk}/download/{fmt}/", {"version": "1"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="shop-prod-v1.{suffix}"'
    assert key in json.loads(response.content)


def test_the_run_page_offers_the_downloads_of_its_target_and_version(refused_run, viewer):
    text = signed_in(viewer).get(f"/admin/exports/runs/{refused_run.pk}/").content.decode()
    for fmt in ("cloudformation", "terraform", "openapi"):
        assert f"/admin/exports/targets/{refused_run.target_id}/download/{fmt}/?version=1" in text


def test_downloads_of_what_does_not_exist_are_404(shop, viewer):
    gateway, client = target(shop), signed_in(viewer)
    base = f"/admin/exports/targets/{gateway.pk}/download"
    assert client.get(f"{base}/pdf/").status_code == 404
    assert client.get(f"{base}/terraform/", {"version": "99"}).status_code == 404
    assert client.get(f"{base}/terraform/", {"version": "1" * 40}).status_code == 404
    assert client.get(f"{base}/terraform/", {"version": "v1"}).status_code == 404
    assert client.get(f"/admin/exports/targets/{gateway.pk + 1000}/download/terraform/").status_code == 404
    assert client.get("/admin/exports/runs/424242/status/").status_code == 404


def test_the_export_pages_are_for_people_with_a_role(refused_run, shop):
    client = signed_in(make_user("olga"))
    for path in (
        f"/admin/exports/runs/{refused_run.pk}/status/",
        f"/admin/exports/targets/{refused_run.target_id}/download/terraform/",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], path
