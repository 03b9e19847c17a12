"""Property tests through the API: any document and variables get a 2xx/4xx answer, decided deterministically."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import bearer

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
graphql_ish = st.lists(
    st.sampled_from(["{", "}", "(", ")", "query", "mutation", "orders", "order", "customer", "id", "ssn", "first:",
                     "5", "$v", ":", "Int", "...", "on", "fragment", "F", "Customer", "@skip(if: true)", "__schema",
                     "edges", "node", "a:", "\"x\"", "#", "\n"]),
    max_size=40,
).map(" ".join)
documents = st.one_of(st.text(max_size=300), graphql_ish)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=documents, variables=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4),
       operation_name=st.none() | st.text(max_size=10))
def test_any_document_gets_a_deterministic_answer_and_never_a_5xx(client, shop, agent_token, query, variables,
                                                                  operation_name):
    body = json.dumps({"schema": "shop", "query": query, "variables": variables, "operationName": operation_name})
    answers = [client.post("/api/v1/check", body, content_type="application/json", **bearer(agent_token))
               for _ in range(2)]
    for response in answers:
        assert response.status_code < 500, response.content[:300]
    if answers[0].status_code == 200:
        first, second = (response.json() for response in answers)
        assert first["decision"] == second["decision"]
        assert first["reasons"] == second["reasons"]
        assert first["metrics"] == second["metrics"]
