"""What a replay of recorded checks costs (policies/checks/replay.py).

`replay.checks_per_s`: recorded checks re-evaluated per second against a draft, streamed from a
database of RECORDS records (100,000; 10,000 with --quick) on the bench schema: agent-like traffic,
the bench's medium document with 50 different `first:` values, so the analysis cache serves the
documents it has seen and analyses each of the 50 once. The records
are inserted first (not timed) into a fresh SQLite file, seeded as the HTTP run seeds its own.

`python -m tools.bench.replay_bench SDL_FILE QUERY_FILE RECORDS` prints the numbers (the bench runs
it in an environment of its own).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.support import servers

_BATCH = 5_000
# Distinct variable values per document: recorded agent traffic repeats shapes with other values.
_DISTINCT_VALUES = 50


def replay_numbers(sdl: str, query: str, *, quick: bool) -> dict[str, Any]:
    """`replay.*` keys, measured in a subprocess on a database of its own."""
    with tempfile.TemporaryDirectory(prefix="gqlgov-replay-bench-") as directory:
        workdir = Path(directory)
        (workdir / "data").mkdir()
        with contextlib.ExitStack() as stack:
            database = stack.enter_context(servers.bench_database(workdir, None))
            environment = servers.BenchEnvironment(workdir, database, "redis://127.0.0.1:1/0")
            (workdir / "schema.graphql").write_text(sdl)
            (workdir / "query.graphql").write_text(query)
            environment.manage("migrate", "--noinput")
            environment.module("tests.support.seed", "seed", str(workdir / "schema.graphql"))
            records = "10000" if quick else "100000"
            return json.loads(environment.module("tools.bench.replay_bench", str(workdir / "query.graphql"), records))


def main(query_file: str, records: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.utils import timezone

    from agents.models import Principal
    from policies.checks.caches import clear_caches, schema_bundle
    from policies.checks.records import DecisionRecord, store_records
    from policies.checks.replay import replay_policy_version
    from policies.models import PolicyVersion, Schema
    from tests.support.seed import BENCH_AGENT

    schema = Schema.objects.get(name="bench_open")
    active = schema.active_policy
    principal = Principal.objects.get(name=BENCH_AGENT)
    query = Path(query_file).read_text()
    documents = [re.sub(r"first: \d+", f"first: {value + 1}", query) for value in range(_DISTINCT_VALUES)]
    now = timezone.now()
    inserted_at = time.perf_counter()
    for start in range(0, records, _BATCH):
        store_records([
            DecisionRecord(
                id=uuid.uuid4(), created_at=now - timedelta(milliseconds=records - index), principal_id=principal.pk,
                agent_name=principal.name, schema_name=schema.name, schema_version=1, policy_version=active.number,
                operation={"name": None, "type": "query", "root_fields": []}, decision="allow", reasons=[],
                metrics={}, client_ip="127.0.0.1", variables_redacted={},
                document_redacted=documents[index % _DISTINCT_VALUES], document_hash="",
            )
            for index in range(start, min(start + _BATCH, records))
        ], idempotent=False)
    insert_s = time.perf_counter() - inserted_at
    draft = PolicyVersion.objects.create(schema=schema, number=active.number + 1, document=active.document,
                                         schema_version=active.schema_version)
    clear_caches()
    # The schema build is a process's one-time cost (a web process has it already): measured apart.
    setup_began = time.perf_counter()
    schema_bundle(draft.schema_version)
    setup_s = time.perf_counter() - setup_began
    began = time.perf_counter()
    summary = replay_policy_version(draft, since=now - timedelta(days=1))
    seconds = time.perf_counter() - began
    return {
        "replay.records": summary.replayed + summary.skipped + summary.undetermined,
        "replay.seconds": round(seconds, 2),
        "replay.checks_per_s": round(summary.replayed / seconds),
        "replay.insert_s": round(insert_s, 1),
        "replay.schema_build_s": round(setup_s, 1),
        "replay.unchanged_share": round(summary.unchanged / max(summary.replayed, 1), 3),
        "replay.distinct_documents": _DISTINCT_VALUES,
    }


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gqlgov.settings")
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
