"""schemathesis against the service's own OpenAPI schema, as an agent and as staff: no 5xx, no schema violation.

Bounded: a few examples per operation (about a minute in all); marked slow.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import issue_token_for, make_principal
from tests.policies.conftest import SHOP_POLICY, SHOP_SDL, activate_policy

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def tokens(db):
    from policies.services import schema_register

    schema_register(actor="test", name="shop", sdl=SHOP_SDL)
    activate_policy(SHOP_POLICY)
    agent = issue_token_for(make_principal("fuzz-agent", "ai", groups=["support"]))
    staff = issue_token_for(make_principal("fuzz-staff", "service", groups=["gqlgov-admins"]))
    return {"agent": agent, "staff": staff}


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("persona", ["agent", "staff"])
def test_api_conforms_to_its_openapi_schema(case, persona, tokens):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens[persona]}"}
    response = case.call()
    case.validate_response(response, checks=(not_a_server_error, response_schema_conformance))
