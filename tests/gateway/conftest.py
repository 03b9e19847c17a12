from tests.fixtures.celery_worker import celery_worker, start_celery_worker  # noqa: F401
from tests.fixtures.moto_server import aws_credentials, moto_server, moto_url  # noqa: F401
from tests.fixtures.redis_server import throwaway_redis_server  # noqa: F401
