"""gqlgov-verify: check a gqlgov decision token without calling gqlgov.

`verify_decision` is the whole check; `lambda_guard` (an AWS_PROXY Lambda handler), the WSGI and
ASGI `DecisionMiddleware`s and `gqlgov_verify.authorizer.handler` (an API Gateway REQUEST
authorizer) apply it to requests. The package imports neither Django nor gqlgov.
"""

from gqlgov_verify.aws_lambda import lambda_guard
from gqlgov_verify.binding import document_sha256, variables_sha256
from gqlgov_verify.caller import acting_agent, on_behalf_of
from gqlgov_verify.config import ConfigurationError, Verifier
from gqlgov_verify.errors import (
    AGENT_MISMATCH,
    CODES,
    DOCUMENT_MISMATCH,
    ISSUER_MISMATCH,
    KEY_UNKNOWN,
    OPERATION_MISMATCH,
    SIGNATURE_INVALID,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_REPLAYED,
    VARIABLES_MISMATCH,
    DecisionRejected,
    RequestRefused,
)
from gqlgov_verify.jwks import JwksClient
from gqlgov_verify.keys import KeySource, StaticKeys
from gqlgov_verify.replay import DynamoDbReplayStore, InMemoryReplayStore, RedisReplayStore, ReplayStore
from gqlgov_verify.verify import DEFAULT_LEEWAY_S, MAX_TOKEN_BYTES, verify_decision, verify_token

__all__ = [
    "AGENT_MISMATCH",
    "CODES",
    "DEFAULT_LEEWAY_S",
    "DOCUMENT_MISMATCH",
    "ISSUER_MISMATCH",
    "KEY_UNKNOWN",
    "MAX_TOKEN_BYTES",
    "OPERATION_MISMATCH",
    "SIGNATURE_INVALID",
    "TOKEN_EXPIRED",
    "TOKEN_MALFORMED",
    "TOKEN_REPLAYED",
    "VARIABLES_MISMATCH",
    "ConfigurationError",
    "DecisionRejected",
    "DynamoDbReplayStore",
    "InMemoryReplayStore",
    "JwksClient",
    "KeySource",
    "RedisReplayStore",
    "ReplayStore",
    "RequestRefused",
    "StaticKeys",
    "Verifier",
    "acting_agent",
    "document_sha256",
    "lambda_guard",
    "on_behalf_of",
    "variables_sha256",
    "verify_decision",
    "verify_token",
]
