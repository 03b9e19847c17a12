from agents.models import ApiToken, Principal
from agents.tokens import lookup_id_from_prefix
from gqlgov.errors import NotFound


def principal_by_name(name: str) -> Principal:
    principal = Principal.objects.filter(name=name).first()
    if principal is None:
        raise NotFound(f"principal '{name}'")
    return principal


def token_by_prefix(prefix: str) -> ApiToken:
    lookup_id = lookup_id_from_prefix(prefix)
    token = ApiToken.objects.select_related("principal").filter(lookup_id=lookup_id).first() if lookup_id else None
    if token is None:
        raise NotFound(f"token '{prefix}'")
    return token
