"""The simulator's typed subject has the shape of a registered agent; anything else is refused
next to the field with what is wrong, and nothing is simulated."""

import pytest

from tests.console.conftest import signed_in

pytestmark = pytest.mark.django_db
QUERY = "{ orders(first: 2) { edges { node { id } } } }"


def simulate(user, subject: str):
    return signed_in(user).post(
        "/admin/simulator/",
        {"schema": "shop", "version": "active", "agent": "", "tz": "UTC", "ip": "10.1.2.3", "subject": subject,
         "query": QUERY},
    )


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ('{"name": 5}', '"name" must be a non-empty string, not a number.'),
        ('{"kind": "ai"}', '"name" must be a non-empty string, not null.'),
        ('{"name": "x", "kind": "robot"}', '"kind" must be one of ai, human, service.'),
        ('{"name": "x", "groups": "support"}', '"groups" must be a list of non-empty strings, e.g. ["support"].'),
        ('{"name": "x", "groups": [1]}', '"groups" must be a list of non-empty strings, e.g. ["support"].'),
        ('{"name": "x", "claims": []}', '"claims" must be an object, not a list.'),
        ('{"name": "x", "team": "a"}', "Unknown key 'team': use name, kind, groups, attributes, claims."),
    ],
)
def test_a_typed_subject_of_the_wrong_shape_is_refused_saying_what_is_wrong(shop, viewer, subject, message):
    response = simulate(viewer, subject)

    assert response.status_code == 200
    assert response.context["form"].errors["subject"] == [message]
    assert response.context["result"] is None


def test_a_well_typed_subject_is_simulated(shop, viewer):
    response = simulate(viewer, '{"name": "x", "kind": "ai", "groups": ["support"], "attributes": {"team": "a"}}')

    assert response.context["result"]["decision"] == "allow"
