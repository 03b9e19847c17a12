"""Decision records on the Redis stream: durable before the answer, drained idempotently, never lost."""

import io
import json
import os
import signal

import pytest
from django.core.management import call_command
from django.db import InterfaceError

from agents.models import AuditEvent
from policies.checks import drainer, records
from policies.models import Decision
from tests.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = "{ orders(first: 5) { edges { node { id } } } }"
# Records keep only declared variables (whether or not the operation then validates).
DECLARING = (
    'query Q($note: ID = "", $big: ID = 0, $negative: ID = 0, $long_digits_in_a_string: ID = "")'
    " { a: order(id: $note) { id } b: order(id: $big) { id } c: order(id: $negative) { id }"
    " d: order(id: $long_digits_in_a_string) { id } }"
)


def check(client, token, query=ORDERS, **extra):
    body = {"schema": "shop", "query": query, **extra}
    return client.post("/api/v1/check", json.dumps(body), content_type="application/json", **bearer(token))


def test_check_appends_its_record_to_the_stream_and_the_drain_stores_it(client, shop, agent_token, redis_settings):
    response = check(client, agent_token)
    assert response.status_code == 200
    decision_id = response.json()["decision_id"]
    assert not Decision.objects.filter(pk=decision_id).exists()  # not yet: it is on the stream
    assert drainer.stream_backlog() == 1
    assert drainer.drain() == 1
    assert Decision.objects.get(pk=decision_id).decision == "allow"
    assert drainer.stream_backlog() == 0


def test_reading_a_decision_still_on_the_stream_finds_it(client, shop, agent_token, redis_settings):
    decision_id = check(client, agent_token).json()["decision_id"]
    response = client.get(f"/api/v1/decisions/{decision_id}", **bearer(agent_token))
    assert response.status_code == 200
    assert response.json()["decision"] == "allow"


def test_what_the_agent_was_shown_of_a_hidden_field_travels_over_the_stream_beside_the_true_cause(
        client, shop, agent_token, redis_settings):
    told = check(client, agent_token, query='{ customer(id: "1") { name ssn } }').json()
    assert drainer.drain() == 1

    record = Decision.objects.get(pk=told["decision_id"])
    assert [reason["code"] for reason in record.reasons] == ["FORBIDDEN_FIELD"]
    read = client.get(f"/api/v1/decisions/{told['decision_id']}", **bearer(agent_token)).json()
    assert read["reasons"] == told["reasons"]
    assert [reason["code"] for reason in read["reasons"]] == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_mutation_check_gets_its_audit_event_when_drained(client, shop, agent_token, redis_settings):
    mutation = 'mutation Pay { updatePayment(customerId: "1", card: "4111-0000") { id } }'
    decision_id = check(client, agent_token, mutation).json()["decision_id"]
    drainer.drain()
    assert AuditEvent.objects.filter(action="agent.mutation_checked", target_id=decision_id).count() == 1
    assert "4111-0000" not in json.dumps(list(Decision.objects.values()), default=str)


def test_storing_a_batch_twice_inserts_each_record_and_audit_event_once(client, shop, agent_token, redis_settings):
    mutation = 'mutation Pay { updatePayment(customerId: "1", card: "4111-0000") { id } }'
    check(client, agent_token, mutation)
    check(client, agent_token)
    client_redis = records.stream_client()
    entries = client_redis.xrange(redis_settings.GQLGOV_DECISION_STREAM_KEY)
    batch = [records.DecisionRecord.from_json(fields[b"r"]) for _id, fields in entries]
    assert len(records.store_records(batch)) == 2
    assert records.store_records(batch) == []  # a drainer that died before acknowledging: no duplicates
    assert drainer.drain() == 0
    assert Decision.objects.count() == 2
    assert AuditEvent.objects.filter(action="agent.mutation_checked").count() == 1


def test_records_a_dead_drainer_had_read_are_claimed_and_stored(client, shop, agent_token, redis_settings):
    decision_id = check(client, agent_token).json()["decision_id"]
    key = redis_settings.GQLGOV_DECISION_STREAM_KEY
    redis = records.stream_client()
    drainer._ensure_group(redis, key)
    # A drainer reads the entry, then dies before storing or acknowledging it.
    assert redis.xreadgroup(drainer.DRAIN_GROUP, "dead-drainer", {key: ">"}, count=10)
    assert drainer.drain(claim_idle_ms=0) == 1
    assert Decision.objects.filter(pk=decision_id).exists()
    assert redis.xpending(key, drainer.DRAIN_GROUP)["pending"] == 0


def test_without_redis_the_check_falls_back_to_the_synchronous_insert(client, shop, agent_token, redis_settings):
    from gqlgov.redis import get_redis

    real_url, redis_settings.REDIS_URL = redis_settings.REDIS_URL, "redis://127.0.0.1:1/0"  # nothing listens there
    get_redis.cache_clear()
    records._stream._skip_until = 0.0
    record = records.DecisionRecord.from_json(json.dumps({
        "id": "3f1c8a1e-0d7c-4a8e-9f39-1d1b0d1b2c3d", "created_at": "2026-01-05T12:00:00+00:00",
        "principal_id": None, "agent_name": "support-bot", "schema_name": "shop", "schema_version": 1,
        "policy_version": 1, "operation": {"type": "query", "root_fields": ["orders"]}, "decision": "allow",
        "reasons": [], "metrics": {}, "client_ip": "127.0.0.1", "variables_redacted": {},
        "document_redacted": ORDERS, "document_hash": "x",
    }))
    try:
        records.record_decision(record)
    finally:
        redis_settings.REDIS_URL = real_url
        get_redis.cache_clear()
        records._stream._skip_until = 0.0
    assert Decision.objects.filter(pk=record.id).exists()


def test_lone_surrogates_in_variables_are_stored(client, shop, agent_token, redis_settings):
    body = '{"schema": "shop", "query": "{ orders(first: 5) { edges { node { id } } } }", "variables": {"\\ud800": "x"}}'
    response = client.post("/api/v1/check", body, content_type="application/json", **bearer(agent_token))
    assert response.status_code == 200
    drainer.drain()
    assert Decision.objects.filter(pk=response.json()["decision_id"]).exists()


def test_nul_characters_on_the_stream_are_stored_replaced(client, shop, agent_token, redis_settings):
    response = check(client, agent_token, query=DECLARING, variables={"note": "b\u0000"}, operationName=None)
    assert response.status_code == 200
    drainer.drain()
    assert Decision.objects.get(pk=response.json()["decision_id"]).variables_redacted == {"note": "b\ufffd"}


def test_non_ascii_values_on_the_stream_are_stored_unchanged(client, shop, agent_token, redis_settings):
    variables = {"note": "caf\u00e9 \u2713 \U0001f600"}
    response = check(client, agent_token, query=DECLARING, variables=variables)
    drainer.drain()
    assert Decision.objects.get(pk=response.json()["decision_id"]).variables_redacted == variables


def test_integers_beyond_64_bits_on_the_stream_are_stored_exactly(client, shop, agent_token, redis_settings):
    variables = {"big": 2**70, "negative": -(2**64) - 1, "long_digits_in_a_string": "1" * 30}
    response = check(client, agent_token, query=DECLARING, variables=variables)
    drainer.drain()
    assert Decision.objects.get(pk=response.json()["decision_id"]).variables_redacted == variables


def test_a_record_the_database_refuses_goes_to_the_dead_letter_stream_and_blocks_nothing(
    client, shop, agent_token, redis_settings
):
    import dataclasses
    import uuid

    good_id = check(client, agent_token).json()["decision_id"]
    template = records.DecisionRecord.from_json(
        records.stream_client().xrange(redis_settings.GQLGOV_DECISION_STREAM_KEY)[0][1][b"r"]
    )
    poison = dataclasses.replace(template, id=uuid.uuid4(), principal_id=10**12)  # no such principal
    records.stream_client().xadd(redis_settings.GQLGOV_DECISION_STREAM_KEY, {"r": poison.to_json()})
    drainer.drain()
    assert Decision.objects.filter(pk=good_id).exists()
    assert not Decision.objects.filter(pk=poison.id).exists()
    dead = records.stream_client().xrange(f"{redis_settings.GQLGOV_DECISION_STREAM_KEY}:dead")
    assert [records.DecisionRecord.from_json(fields[b"r"]).id for _id, fields in dead] == [poison.id]
    assert drainer.stream_backlog() == 0
    records.stream_client().delete(f"{redis_settings.GQLGOV_DECISION_STREAM_KEY}:dead")


def test_the_following_drainer_outlives_a_closed_database_connection_and_stores_the_record(
    client, shop, agent_token, redis_settings, monkeypatch
):
    decision_id = check(client, agent_token).json()["decision_id"]
    store = records.store_records
    attempts = []

    def closed_on_the_first_attempt(records, **kwargs):
        attempts.append(len(records))
        if len(attempts) == 1:
            raise InterfaceError("connection already closed")
        stored = store(records, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # the drainer's stop signal: it ends after this pass
        return stored

    monkeypatch.setattr(records, "store_records", closed_on_the_first_attempt)
    output = io.StringIO()
    previous_handler = signal.getsignal(signal.SIGTERM)
    try:
        call_command("drain_decisions", "--follow", stdout=output)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    assert attempts == [1, 1]  # the record the failed pass read is retried, not lost
    assert Decision.objects.filter(pk=decision_id).exists()
    assert "1 decision record(s) stored" in output.getvalue()


def test_a_record_no_replica_confirms_in_time_is_stored_before_the_answer_and_drained_once(
    client, shop, agent_token, redis_settings
):
    # This Redis has no replica: WAIT 1 gives up after GQLGOV_REDIS_WAIT_MS with none.
    redis_settings.GQLGOV_REDIS_WAIT_REPLICAS = 1
    redis_settings.GQLGOV_REDIS_WAIT_MS = 20
    records._stream._skip_until = 0.0
    mutation = 'mutation Pay { updatePayment(customerId: "1", card: "4111-0000") { id } }'
    try:
        decision_id = check(client, agent_token, mutation).json()["decision_id"]
        assert Decision.objects.filter(pk=decision_id).exists()  # in the database before the answer
        assert drainer.stream_backlog() == 1  # and on the master's stream, where the drainer finds it
        assert drainer.drain() == 0
    finally:
        records._stream._skip_until = 0.0
    assert Decision.objects.count() == 1
    assert AuditEvent.objects.filter(action="agent.mutation_checked", target_id=decision_id).count() == 1
