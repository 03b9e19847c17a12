import pytest

from tests.gateway.factories import make_agents, make_function, make_policy, make_schema, make_target
from tests.support.celery_worker import celery_worker, start_celery_worker  # noqa: F401
from tests.support.moto_server import aws_credentials, moto_server, moto_url  # noqa: F401
from tests.support.redis_server import throwaway_redis_server  # noqa: F401


@pytest.fixture
def shop(db, moto_url):  # noqa: F811 (moto_url: the fixture imported above)
    """The shop schema with its agents, an approved active policy and a target on the moto server,
    whose backend Lambda exists there (the export gives API Gateway its invoke permission)."""
    schema = make_schema()
    make_agents()
    version = make_policy(schema)
    make_function(moto_url)
    target = make_target(schema, moto_url)
    return schema, version, target
