"""Seeds the benchmark's own database (run as `python -m tools.bench.seed`, in the bench environment).

`seed SDL_FILE`: an agent with a token, the bench schema twice (`bench` with rate limits, `bench_open`
without: limiter on vs off) and the demo `shop` schema (the hostile corpus names its fields), each
with an approved policy; prints JSON with the token. `count`: how many decision records and audit
events exist. `ids`: every stored decision id.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gqlgov.settings")
    import django

    django.setup()


def seed(sdl_file: str) -> dict:
    from django.contrib.auth import get_user_model

    from agents.services import principal_create, token_issue
    from policies import engine
    from policies.services import policy_approve, policy_load, schema_register
    from tools.bench.engine_bench import BENCH_AGENT, BENCH_GROUP, bench_policy_document

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


def ids() -> dict:
    from policies.models import Decision

    return {"ids": [str(pk) for pk in Decision.objects.values_list("pk", flat=True)]}


def main(argv: list[str]) -> int:
    _setup()
    if argv[:1] == ["seed"] and len(argv) == 2:
        print(json.dumps(seed(argv[1])))
    elif argv[:1] == ["count"]:
        print(json.dumps(count()))
    elif argv[:1] == ["ids"]:
        print(json.dumps(ids()))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
