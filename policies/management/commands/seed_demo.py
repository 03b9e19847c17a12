import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agents.models import Principal
from agents.services import principal_create, token_issue
from gqlgov import roles
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
            users = {role: _demo_user(role) for role in roles.ROLES}
            admin = users[roles.ADMIN]
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
                policy_approve(approver=users[roles.APPROVER], version=policy_load(author=admin, document=document))
            if opts["aws_endpoint"]:
                _demo_gateway_target(opts["aws_endpoint"])
            _token, plaintext = token_issue(actor="demo", principal=agent, label="demo", expires_in_days=30)
        self.stdout.write(ready_block(opts["base_url"].rstrip("/"), plaintext))


DEMO_QUERY = "{ orders(first: 5) { edges { node { id total } } } }"


def ready_block(base: str, token: str) -> str:
    """What the demo prints once it is seeded: where to sign in as each role and what that role
    may do, and curl lines that work as printed (the pre-check names its schema)."""
    width = max(len(role) for role in roles.ROLES)
    logins = "\n".join(f"    {role:<{width}}  {roles.role_summary(role)}" for role in roles.ROLES)
    check_body = json.dumps({"schema": "shop", "query": DEMO_QUERY})
    return (
        f"\ngqlgov demo is ready: {base}/admin/\n"
        f"  Sign in as one of these users (password {DEMO_PASSWORD}); each may:\n{logins}\n"
        f"  API docs: {base}/api/v1/docs\n"
        f"  The demo agent (demo-agent, group support), via its new token:\n"
        f"    curl -s -H 'Authorization: Bearer {token}' {base}/api/v1/agents/me\n"
        f"  A pre-check against the shop schema:\n"
        f"    curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f"-d '{check_body}' {base}/api/v1/check\n"
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


def _demo_user(role: str):
    """The demo user named after `role`, in that role's first group (as an OIDC login would sync it);
    admin is a superuser too, for Django's own user pages."""
    model = get_user_model()
    user = model.objects.filter(username=role).first()
    if user is None:
        create = model.objects.create_superuser if role == roles.ADMIN else model.objects.create_user
        user = create(role, f"{role}@example.com", DEMO_PASSWORD)
    groups = roles.role_groups()[role]
    if groups:  # a deployment may map a role to no group
        user.groups.add(Group.objects.get_or_create(name=groups[0])[0])
    return user
