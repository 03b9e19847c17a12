from tests.support.oidc_provider import oidc_provider  # noqa: F401
from tests.support.redis_server import throwaway_redis_server  # noqa: F401
