"""Approval announcements: a real Celery worker delivers them to a loopback receiver that fails
the first two deliveries, signed with HMAC-SHA256 over the body, retried until taken."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import decide, refund

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]
SECRET = "webhook-secret-for-tests"


class Receiver(ThreadingHTTPServer):
    """Answers 500 to the first `failures` POSTs, then 200; keeps what it was sent."""

    def __init__(self, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures
        self.attempts = 0
        self.taken: list[tuple[bytes, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.attempts += 1
        failing = self.server.attempts <= self.server.failures
        if not failing:
            self.server.taken.append((body, self.headers.get("X-Gqlgov-Signature", "")))
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    server = Receiver(failures=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def wait_for(predicate, what: str, timeout_s: float = 90.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_request_and_its_decision_are_announced_signed_and_retried_until_delivered(
        client, refunds, bot_token, approver, receiver, start_celery_worker):
    worker = start_celery_worker(GQLGOV_APPROVAL_WEBHOOK_URL=receiver.url, GQLGOV_APPROVAL_WEBHOOK_SECRET=SECRET)

    answer = refund(client, bot_token)
    assert answer.json()["decision"] == "pending_approval"  # answered before any delivery
    approval_id = answer.json()["approval"]["id"]
    wait_for(lambda: len(receiver.taken) == 1, "the request's announcement")
    decide(client, approver[1], approval_id, "approve", "ok")
    wait_for(lambda: len(receiver.taken) == 2, "the decision's announcement")

    assert receiver.attempts == 4  # two refused, then each announcement once
    (requested, signature), (decided, _) = receiver.taken
    assert signature == "sha256=" + hmac.new(SECRET.encode(), requested, hashlib.sha256).hexdigest()
    requested_body, decided_body = json.loads(requested), json.loads(decided)
    assert requested_body["event"] == "approval.requested"
    assert f"/admin/approvals/{approval_id}/|review it>" in requested_body["text"]
    assert "refund-bot" in requested_body["text"]
    assert (decided_body["event"], decided_body["approval"]["status"]) == ("approval.approved", "approved")
    assert "Retry in" in worker.log()
