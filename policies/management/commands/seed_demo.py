from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agents.models import Principal
from agents.services import principal_create, token_issue
from policies import engine
from policies.gateway.models import GatewayTarget
from policies.gateway.services import export_request, target_create
from policies.models import Schema
from policies.services import policy_approve, policy_load, schema_register

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_PASSWORD = "gqlgov-demo"


class Command(BaseCommand):
    help = "Load demo data (users, a demo agent with a fresh token, the shop schema and policy) and say how to use it."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--aws-endpoint", help="a moto server: create the demo gateway target and export to it")

    def handle(self, *args, **opts):
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo creates users with known passwords; it refuses to run in production.")
        with transaction.atomic():
            admin = _demo_user("admin")
            reviewer = _demo_user("reviewer")
            agent = Principal.objects.filter(name="demo-agent").first() or principal_create(
                actor="demo",
                name="demo-agent",
                kind="ai",
                owner=admin,
                groups=["support"],
                attributes={"team": "support", "env": "demo"},
            )
            schema_register(actor="demo", name="shop", sdl=(DEMO_DIR / "shop.graphql").read_text())
            if Schema.objects.get(name="shop").active_policy_id is None:
                document = engine.parse_policy_yaml((DEMO_DIR / "shop-policy.yaml").read_text())
                policy_approve(approver=reviewer, version=policy_load(author=admin, document=document))
            if opts["aws_endpoint"]:
                _demo_gateway_target(opts["aws_endpoint"])
            _token, plaintext = token_issue(actor="demo", principal=agent, label="demo", expires_in_days=30)
        base = opts["base_url"].rstrip("/")
        self.stdout.write(
            f"\ngqlgov demo is ready.\n"
            f"  Admin:    {base}/admin/  (log in as admin / {DEMO_PASSWORD}; reviewer / {DEMO_PASSWORD} approves)\n"
            f"  API docs: {base}/api/v1/docs\n"
            f"  Your demo agent, via its new token:\n"
            f"    curl -s -H 'Authorization: Bearer {plaintext}' {base}/api/v1/agents/me\n"
            f"  A pre-check:\n"
            f"    curl -s -H 'Authorization: Bearer {plaintext}' -H 'Content-Type: application/json' "
            f'-d \'{{"query": "{{ orders(first: 5) {{ edges {{ node {{ id total }} }} }} }}"}}\' {base}/api/v1/check\n'
        )


def _demo_gateway_target(endpoint_url: str) -> None:
    """A target on the local moto server, exported now so the admin shows a successful sync."""
    schema = Schema.objects.get(name="shop")
    target = GatewayTarget.objects.filter(name="demo").first()
    if target is None:
        target = target_create(
            actor="demo", name="demo", schema=schema, region="us-east-1", stage_name="demo",
            http_url="https://orders.example.com/graphql", endpoint_url=endpoint_url,
        )
    elif target.endpoint_url != endpoint_url:
        raise CommandError(f"The demo target exports to {target.endpoint_url}; start the demo with that endpoint.")
    export_request(actor="demo", target=target, version=schema.active_policy)


def _demo_user(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        user = get_user_model().objects.create_superuser(username, f"{username}@example.com", DEMO_PASSWORD)
    return user
