"""GET /api/v1/.well-known/jwks.json (`get_decision_jwks`): the public keys that verify decision
tokens, for anyone (a backend, a Lambda authorizer) without credentials."""

from django.http import HttpRequest, HttpResponse
from ninja import Router

from policies.signing.signer import published_jwks

router = Router(tags=["signing"])


@router.get("/.well-known/jwks.json", auth=None, operation_id="get_decision_jwks")
def get_decision_jwks(request: HttpRequest):
    """The JWK Set (RFC 7517) of decision tokens: the active key and retired keys whose tokens may not have expired."""
    body, max_age = published_jwks()
    response = HttpResponse(body, content_type="application/jwk-set+json")
    response["Cache-Control"] = f"public, max-age={max_age}"
    return response
