"""Seeds the database of a deployment on loopback: the benchmark's and the production-shape tests'
(run as `python -m tests.support.seed`, in the environment of tests/support/servers.py).

`seed SDL_FILE`: an agent with a token, the bench schema twice (`bench` with rate limits, `bench_open`
without: limiter on vs off) and the demo `shop` schema (the hostile corpus names its fields), each
with an approved policy; prints JSON with the token. `count`: how many decision records and audit
events exist.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

BENCH_AGENT = "bench-agent"
BENCH_GROUP = "bench"


def bench_policy_document(schema_name: str, *, rate_limits: bool, extra_rules: list[dict[str, Any]] = ()) -> dict:
    """The policy the benchmark decides with: one rule admits every query for the bench group."""
    defaults: dict[str, Any] = {
        "limits": {"max_depth": 12, "max_aliases": 100, "max_root_fields": 100, "max_tokens": 8000,
                   "max_directives": 100, "max_cost": 1_000_000},
        "introspection": "deny",
    }
    if rate_limits:
        # Generous enough never to refuse during a run; still one real Redis round trip per check.
        defaults["rate_limits"] = [{"requests": 10_000_000, "per": "hour"}, {"cost": 1_000_000_000, "per": "day"}]
    rules = [*extra_rules, {"id": "bench-reads", "effect": "allow", "subjects": {"groups": [BENCH_GROUP]},
                            "operations": ["query.*"], "fields": {"deny": ["*.password"]}}]
    return {"schema": schema_name, "defaults": defaults, "sensitive_arguments": ["*.password", "*.token"],
            "rules": rules}


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gqlgov.settings")
    import django

    django.setup()


def seed(sdl_file: str) -> dict:
    from django.contrib.auth import get_user_model

    from agents.services import principal_create, token_issue
    from policies import engine
    from policies.services import policy_approve, policy_load, schema_register

    users = get_user_model().objects
    author = users.create_user("bench-author")
    approver = users.create_superuser("bench-approver", "bench@example.invalid", None)
    sdl = Path(sdl_file).read_text()
    demo = Path(__file__).resolve().parents[2] / "policies" / "demo"
    schemas = {
        "bench": (sdl, bench_policy_document("bench", rate_limits=True)),
        "bench_open": (sdl, bench_policy_document("bench_open", rate_limits=False)),
        "shop": ((demo / "shop.graphql").read_text(),
                 engine.parse_policy_yaml((demo / "shop-policy.yaml").read_text())),
    }
    for name, (text, policy) in schemas.items():
        schema_register(actor="bench", name=name, sdl=text)
        policy_approve(approver=approver, version=policy_load(author=author, document=policy))
    agent = principal_create(actor="bench", name=BENCH_AGENT, kind="ai", groups=[BENCH_GROUP, "support"],
                             attributes={"team": "support"})
    _token, plaintext = token_issue(actor="bench", principal=agent, label="bench")
    staff = principal_create(actor="bench", name="bench-staff", kind="service", groups=["gqlgov-admins"])
    _staff_token, staff_plaintext = token_issue(actor="bench", principal=staff, label="bench")
    return {"token": plaintext, "staff_token": staff_plaintext, "agent": BENCH_AGENT}


def count() -> dict:
    from agents.models import AuditEvent
    from policies.models import Decision

    return {"decisions": Decision.objects.count(), "audit_events": AuditEvent.objects.count()}


def main(argv: list[str]) -> int:
    _setup()
    if argv[:1] == ["seed"] and len(argv) == 2:
        print(json.dumps(seed(argv[1])))
    elif argv[:1] == ["count"]:
        print(json.dumps(count()))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
